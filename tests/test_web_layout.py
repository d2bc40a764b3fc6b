"""The page at the screen sizes a class uses: a laptop (1366x768), a projector (1920x1080), a
tablet held upright (820x1180, touch) and a laptop at 150 % zoom. At each: no control lies under
another element (``elementFromPoint`` at each control's centre finds the control), no sideways
scroll, no tab header cut off, the timeline clear of the event log, hover tooltips never over Play
or Undo. Screenshots of each layout go to the git-ignored artifacts folder for a person to look at.
"""
from __future__ import annotations

import pytest

from web_helpers import LAYOUT_CHECK, OfflinePage, open_page, overlaps, shot, tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")

# Headless chromium draws no scrollbar; a desktop browser's takes 15 px of the width.
SCROLLBAR = 15
SCREENS = {
    "laptop-1366x768": dict(width=1366 - SCROLLBAR, height=768),
    "projector-1920x1080": dict(width=1920 - SCROLLBAR, height=1080),
    "tablet-820x1180": dict(width=820, height=1180, has_touch=True, is_mobile=True),
    "zoom150-1366x768": dict(width=911, height=512, device_scale_factor=1.5),   # 1366x768 at 150 %
}


@pytest.mark.parametrize("screen", list(SCREENS))
def test_nothing_covers_a_control_at_every_screen_size(browser, screen):
    b, base = browser
    size = dict(SCREENS[screen])
    op = OfflinePage(b, size.pop("width"), size.pop("height"), **size)
    page = op.page
    open_page(page, base + "?step=4")
    page.locator(".vm-undo button").click()                      # Undo and Redo both enabled
    page.wait_for_timeout(800)
    shot(page, f"layout-{screen}", full_page=False)
    shot(page, f"layout-{screen}-full")
    problems = []
    for control_tab in ("Host", "Guest", "Driver & time", "Any action"):
        tab(page, control_tab)
        page.wait_for_timeout(300)
        result = page.evaluate(LAYOUT_CHECK)
        assert result["controls"] > 20
        problems += [(control_tab, *p) for p in result["problems"]]
    assert problems == []
    assert not overlaps(page.locator(".vm-scrubber").first.bounding_box(),
                        page.locator(".vm-log-pane").first.bounding_box())
    assert op.errors == [] and op.blocked == []
    op.close()


# Controls in view whose centre hit-tests to something else (a tooltip, say).
COVERED_NOW = """() => {
  const all = (root, out) => { root.querySelectorAll('button, input:not([type=hidden]), select').forEach(e => out.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) all(e.shadowRoot, out); }); return out; };
  const hit = (x, y) => { let el = document.elementFromPoint(x, y);
    while (el && el.shadowRoot) { const i = el.shadowRoot.elementFromPoint(x, y); if (!i || i === el) break; el = i; }
    return el; };
  const within = (outer, el) => { for (let e = el; e; e = e.parentNode || e.host) if (e === outer) return true; return false; };
  const out = [];
  for (const e of all(document, [])) {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || r.bottom < 0 || r.top > innerHeight) continue;
    const h = hit(r.left + r.width / 2, r.top + r.height / 2);
    if (h && !within(e, h) && !within(h, e)) out.push((e.textContent || e.placeholder || e.tagName).trim().slice(0, 20));
  }
  return out; }"""


def test_hover_tooltips_never_cover_a_control(browser):
    """Play and Undo above all (a tooltip of "Next lesson step" used to), but no button's tooltip
    may lie over another button either: a click there would hit the tooltip."""
    b, base = browser
    op = OfflinePage(b, 1366, 768)
    page = op.page
    open_page(page, base + "?step=2")
    page.locator(".vm-undo button").click()                      # every timeline button enabled
    page.wait_for_timeout(500)
    covered = []
    for control_tab in ("Host", "Guest", "Driver & time", "Any action"):
        tab(page, control_tab)
        page.wait_for_timeout(300)
        buttons = page.locator("button:visible")
        for i in range(buttons.count()):
            button = buttons.nth(i)
            if not button.is_enabled():
                continue
            button.hover()
            page.wait_for_timeout(700)                           # Bokeh shows a tooltip after ~0.4 s
            covered += [(control_tab, button.inner_text(), c) for c in page.evaluate(COVERED_NOW)]
    assert covered == []
    op.close()
