"""The served page in Debian's chromium (Playwright): load, plug, fragment, unplug, tap.

Offline: every request not to 127.0.0.1 is aborted and must never be attempted; no JS console
errors. Screenshots go to /tmp/vmemlab-web-shots for a human to look at.
"""
import re

import pytest

from web_helpers import OfflinePage, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")

# plugged subblocks in the region map image (codes from core.view.Chunk: OFFLINE and above)
MAP_CELLS = """() => { const m = Bokeh.documents[0].get_model_by_name('vm-region-image');
    let n = 0; for (const v of m.data.image[0]) if (v >= 2) n++; return n; }"""


def tab(page, title: str) -> None:
    page.locator(".bk-tab", has_text=re.compile(f"^{re.escape(title)}$")).click()


def map_cells(page) -> int:
    return page.evaluate(MAP_CELLS)


def wait_map(page, predicate: str) -> None:
    page.wait_for_function(MAP_CELLS.replace("return n;", f"return n {predicate};"), timeout=20000)


def test_plug_fragment_unplug_change_the_map_and_the_log(browser):
    b, base = browser
    op = OfflinePage(b)
    page = op.page
    page.goto(base)
    page.wait_for_selector(".vm-log-pane", timeout=30000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    assert map_cells(page) == 0
    page.locator(".vm-requested-input input").fill("1G")
    page.locator(".vm-do-request button").click()
    wait_map(page, "== 8 * 64")                                   # 8 memory blocks of 64 subblocks
    page.wait_for_selector(".vm-log >> text=PLUG device blocks", timeout=20000)
    tab(page, "Guest")
    page.locator(".vm-in-alloc-size input").fill("300M")
    page.locator(".vm-do-alloc button").click()
    page.wait_for_selector("text=of anon pages allocated", timeout=20000)
    page.locator(".vm-do-fragment button").click()
    page.wait_for_selector("text=unmovable kernel pages scattered", timeout=20000)
    tab(page, "Host")
    page.locator(".vm-requested-input input").fill("256M")
    page.locator(".vm-requested-input input").press("Enter")
    wait_map(page, "== 2 * 64")
    page.wait_for_selector(".vm-log >> text=UNPLUG", timeout=20000)
    box = page.locator(".bk-Canvas").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + 40)
    shot(page, "browser-tapped")
    page.wait_for_selector(r"text=/memory3\d \(vmem0\)/", timeout=20000)
    shot(page, "browser-unplugged")
    assert op.blocked == [] and op.errors == []
    op.close()


def test_bad_size_and_bad_url_show_clear_messages(browser):
    b, base = browser
    op = OfflinePage(b)
    page = op.page
    page.goto(base + "?scenario=default&step=seven")
    page.wait_for_selector("text=URL parameter step", timeout=30000)
    page.locator(".vm-requested-input input").fill("301M")
    page.locator(".vm-do-request button").click()
    page.wait_for_selector("text=301M is not a multiple of block-size 2M", timeout=20000)
    assert map_cells(page) == 0
    page.goto(base + "?scenario=default&step=2")
    page.wait_for_selector("text=step 2 of 6", timeout=30000)
    wait_map(page, "> 0")
    shot(page, "browser-url-step2")
    assert op.blocked == [] and op.errors == []
    op.close()
