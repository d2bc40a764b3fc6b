"""Long work in the served page: a 4 TiB settle runs in slices, so another tab's click is answered
while it runs, this tab shows its progress and can cancel it, and what was done stays on the
timeline as a state that replays exactly (one undo takes the whole gesture back)."""
from __future__ import annotations

import pytest

from web_helpers import LIVE_SOURCE, OfflinePage, launch, open_page, served, source_js

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")

SCENARIO_4T = """title = "4 TiB region"
[machine]
boot_memory = "128G"
[[device]]
region_size = "4T"
"""
# Record (Date.now()) when the map first satisfies a condition on its cell codes: >= 2 is plugged.
WATCH = """([name, cond]) => { window.vmSeen = window.vmSeen || {};
  const test = new Function('cells', cond);
  const look = () => { const m = (%s)('vm-region-image');
    if (m && test(m.data.image[0])) { window.vmSeen[name] = Date.now(); return; }
    requestAnimationFrame(look); };
  look(); }"""
ALL_PLUGGED = "for (const v of cells) if (v < 2) return false; return true;"
ANY_PLUGGED = "for (const v of cells) if (v >= 2) return true; return false;"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("work") / "region_4t.toml"
    path.write_text(SCENARIO_4T, encoding="utf-8")
    with served(str(path)) as base, sync_api.sync_playwright() as p:
        b = launch(p)
        yield b, base
        b.close()


def watch(page, name: str, cond: str) -> None:
    page.evaluate(WATCH % LIVE_SOURCE, [name, cond])


def seen(page, name: str):
    return page.evaluate(f"() => (window.vmSeen || {{}})[{name!r}] || null")


def test_one_tabs_long_settle_does_not_block_another_tabs_click(server):
    b, base = server
    one, two = OfflinePage(b, 1366, 900), OfflinePage(b, 1366, 900)
    a, c = one.page, two.page
    open_page(a, base)
    open_page(c, base)
    watch(a, "a-full", ALL_PLUGGED)
    watch(c, "c-any", ANY_PLUGGED)
    a.locator(".vm-requested-input input").fill("4T")
    a.locator(".vm-do-request button").click()                   # ~32768 driver requests
    a.wait_for_selector(".vm-progress-line.vm-busy >> text=driver requests so far", timeout=60000)
    c.locator(".vm-do-grow button").click()                      # the other tab: one memory block
    c.wait_for_function("() => window.vmSeen && window.vmSeen['c-any']", timeout=180000)
    a.wait_for_function("() => window.vmSeen && window.vmSeen['a-full']", timeout=180000)
    # answered while the other tab worked (without slices both land together, when the settle ends)
    assert seen(c, "c-any") + 1000 < seen(a, "a-full")
    assert one.errors == [] and two.errors == [] and one.blocked == two.blocked == []
    one.close()
    two.close()


def test_cancel_stops_a_long_settle_with_a_replayable_state(server):
    b, base = server
    op = OfflinePage(b, 1366, 900)
    page = op.page
    open_page(page, base)
    page.locator(".vm-requested-input input").fill("4T")
    page.locator(".vm-do-request button").click()
    page.wait_for_selector(".vm-progress-line.vm-busy", timeout=10000)
    page.wait_for_timeout(600)
    page.locator(".vm-cancel button").click()
    page.wait_for_selector(".vm-caption.vm-message >> text=stopped after", timeout=20000)
    plugged = page.locator('.vm-stat[data-key="plugged"] .vm-stat-value').inner_text()
    assert plugged.strip("▲ ") not in ("0", "4T"), plugged       # part of the way, as the map shows
    assert page.locator(".vm-cancel button").is_disabled()
    page.locator(".vm-undo button").click()                      # one undo: the whole gesture
    page.wait_for_function(source_js("vm-region-image", "for (const v of m.data.image[0]) if (v >= 2) return false; "
                                                        "return true;"), timeout=20000)
    assert op.errors == [] and op.blocked == []
    op.close()
