"""The classroom features in chromium: presentation mode and its keyboard shortcuts, a prediction
graded in the page, and a copied link that reopens a session built in the browser."""
from __future__ import annotations

import json

import pytest

from vmemlab.core import trace_io
from vmemlab.core.session import Session
from vmemlab.web.state import load_scenario
from web_helpers import OfflinePage, open_page, shot, source_js

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")
PLUGGED = source_js("vm-region-image", "let n = 0; for (const v of m.data.image[0]) if (v >= 2) n++; return n;")


def font_px(page, css: str) -> float:
    return page.locator(css).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def lesson_text(page) -> str:
    return page.locator(".vm-lesson").first.inner_text()


def test_presentation_mode_and_its_keyboard_shortcuts(browser):
    b, base = browser
    op = OfflinePage(b, 1920, 1080)
    page = op.page
    open_page(page, base + "?present=1")
    page.wait_for_timeout(500)
    assert not page.locator(".vm-log-pane").first.is_visible()             # the controls stepped aside
    assert font_px(page, ".vm-stat-value") >= 20 and font_px(page, ".vm-note") >= 18
    assert font_px(page, ".vm-play button") >= 18
    map_box = page.locator(".vm-caption").first.bounding_box()
    assert map_box["y"] < 540                                               # the map starts in the top half
    page.keyboard.press("?")
    page.wait_for_selector(".vm-help-card", state="visible")
    assert "next lesson step" in page.locator(".vm-help-card").inner_text()
    shot(page, "present-help", full_page=False)
    page.keyboard.press("Escape")
    page.wait_for_selector(".vm-help-card", state="hidden")
    page.keyboard.press("n")                                                # lesson step 1: 1 GiB
    page.wait_for_function(PLUGGED.replace("return n;", "return n == 8 * 64;"), timeout=20000)
    page.keyboard.press("n")
    page.wait_for_selector(".vm-progress >> text=lesson step 2", timeout=20000)
    page.keyboard.press("u")
    page.wait_for_selector(".vm-progress >> text=lesson step 1", timeout=20000)
    page.keyboard.press("r")
    page.wait_for_selector(".vm-progress >> text=lesson step 2", timeout=20000)
    page.keyboard.press("Home")
    page.wait_for_function(PLUGGED.replace("return n;", "return n == 0;"), timeout=20000)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(PLUGGED.replace("return n;", "return n == 8 * 64;"), timeout=20000)
    page.keyboard.press("End")
    page.wait_for_selector(".vm-progress >> text=lesson step 2", timeout=20000)
    shot(page, "present-1920x1080", full_page=False)
    page.keyboard.press(" ")                                                # play ...
    page.wait_for_selector(".vm-play button >> text=Pause", timeout=20000)
    page.keyboard.press("p")                                                # ... and pause
    page.wait_for_selector(".vm-play button >> text=Play", timeout=20000)
    page.keyboard.press("f")                                                # presentation mode off
    page.wait_for_selector(".vm-log-pane", state="visible", timeout=20000)
    assert font_px(page, ".vm-stat-value") < 18
    assert op.errors == [] and op.blocked == []
    op.close()


@pytest.mark.parametrize("width, height, touch", [(1366, 768, False), (1920, 1080, False), (820, 1180, True)])
def test_presentation_mode_shows_the_map_and_the_lesson_on_the_first_screen(browser, width, height, touch):
    """What a projected classroom sees without scrolling: the lesson sentence and the map's
    caption and top (beside each other on a wide screen, the lesson above on a tablet), and
    nothing wider than the window."""
    b, base = browser
    extra = {"has_touch": True, "is_mobile": True} if touch else {}
    op = OfflinePage(b, width, height, **extra)
    page = op.page
    open_page(page, base + "?present=1")
    page.keyboard.press("n")
    page.wait_for_selector(".vm-progress >> text=lesson step 1", timeout=20000)
    def boxes() -> tuple[dict, dict, int]:
        return (page.locator(".vm-lesson").first.bounding_box(), page.locator(".vm-caption").first.bounding_box(),
                page.evaluate("document.scrollingElement.scrollWidth"))

    def first_screen(lesson: dict, caption: dict, scroll_width: int) -> list[str]:
        wrong = []
        if not (lesson["x"] >= 0 and lesson["x"] + lesson["width"] <= width):
            wrong.append("the lesson runs off the screen")
        if not (lesson["y"] < height / 2 and caption["y"] < height / 2):
            wrong.append("the lesson or the map's caption starts below the middle")
        if width >= 1366 and not lesson["x"] > caption["x"] + caption["width"] / 2:
            wrong.append("the lesson is not beside the map")
        if width < 1366 and not lesson["y"] < caption["y"]:
            wrong.append("the lesson is not above the map")
        if scroll_width > width:
            wrong.append("the page scrolls sideways")
        return wrong

    for _ in range(40):                       # a loaded machine may still be laying the page out
        measured = boxes()
        if not first_screen(*measured):
            break
        page.wait_for_timeout(250)
    assert not first_screen(*measured), (first_screen(*measured), measured)
    shot(page, f"present-first-screen-{width}x{height}", full_page=False)
    assert op.errors == [] and op.blocked == [], (op.errors, op.blocked)
    op.close()


def test_a_prediction_waits_is_graded_and_hides_the_answer_until_then(browser):
    b, base = browser
    op = OfflinePage(b, 1366, 900)
    page = op.page
    open_page(page, base + "?scenario=01_resizable_dimm.toml")
    step = load_scenario("01_resizable_dimm.toml").steps[0]
    assert "By how much does MemTotal grow" in lesson_text(page)
    next_at = page.locator(".vm-lesson-step button").bounding_box()["y"]
    page.locator(".vm-lesson-step button").click()                          # not yet: predict first
    page.wait_for_selector(".vm-caption.vm-message >> text=asks you to predict first", timeout=20000)
    assert PLUGGED and page.evaluate(PLUGGED) == 0
    page.locator(".vm-prediction input").fill("128M")                       # a wrong guess
    page.locator(".vm-lock button").click()
    page.wait_for_selector(".vm-locked >> text=128M", timeout=20000)
    assert page.locator(".vm-lesson-step button").bounding_box()["y"] == next_at   # nothing jumped
    page.locator(".vm-lesson-step button").click()
    page.wait_for_selector(".vm-grade.vm-wrong", timeout=20000)
    assert page.locator(".vm-lesson-step button").bounding_box()["y"] == next_at
    text = lesson_text(page)
    assert "WRONG: you said 128M; mem_total_change is +2M" in text and step.note[:40] in text
    shot(page, "prediction-graded", full_page=False)
    for _ in range(2):                                                      # step 2 asks too: skip it
        page.locator(".vm-skip button").click()
        page.wait_for_selector(".vm-ask >> text=Question skipped", timeout=20000)
        page.locator(".vm-lesson-step button").click()
        page.wait_for_selector(".vm-progress >> text=lesson step 2", timeout=20000)
        break
    page.locator(".vm-lesson-step button").click()                          # step 3, no question
    page.wait_for_selector(".vm-progress >> text=lesson step 3", timeout=20000)
    # step 4: "Which memory block becomes partly plugged?" -- answered by tapping the block
    box = page.locator(".bk-Canvas").first.bounding_box()
    page.wait_for_selector(".vm-prediction input", state="visible")
    row = page.evaluate("""() => { for (const v of Bokeh.index.all_views()) if (v.model.type == 'Plot')
        for (const r of v.model.renderers) if (r.data_source && r.data_source.name == 'vm-region-image')
          return [v.frame.x_scale.compute(10), v.frame.y_scale.compute(39.5)]; }""")
    page.mouse.click(box["x"] + row[0], box["y"] + row[1])
    page.wait_for_function("() => true")
    page.wait_for_timeout(800)
    assert page.locator(".vm-prediction input").input_value() == "memory39"
    page.locator(".vm-lock button").click()
    page.wait_for_selector(".vm-locked >> text=memory39", timeout=20000)
    page.locator(".vm-lesson-step button").click()
    page.wait_for_selector(".vm-grade.vm-right", timeout=20000)
    assert op.errors == [] and op.blocked == []
    op.close()


def test_a_reached_question_keeps_its_explanation_folded_until_revealed(browser):
    b, base = browser
    op = OfflinePage(b, 1366, 900)
    page = op.page
    open_page(page, base + "?scenario=01_resizable_dimm.toml&step=1")
    note = load_scenario("01_resizable_dimm.toml").steps[0].note
    assert note[:40] not in lesson_text(page) and "stays folded" in lesson_text(page)
    page.locator(".vm-reveal button").click()
    page.wait_for_function(f"() => document.querySelector('body') && true")
    page.wait_for_selector(f".vm-note >> text={note[:30]}", timeout=20000)
    op.close()


def test_a_copied_link_reopens_the_session_and_a_bad_one_says_why(browser, tmp_path):
    b, base = browser
    op = OfflinePage(b, 1366, 900)
    page = op.page
    op.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_page(page, base)
    page.locator(".vm-lesson-step button").click()
    page.wait_for_function(PLUGGED.replace("return n;", "return n == 8 * 64;"), timeout=20000)
    page.locator(".vm-requested-input input").fill("384M")
    page.locator(".vm-do-request button").click()
    page.wait_for_function(PLUGGED.replace("return n;", "return n == 3 * 64;"), timeout=20000)
    page.locator(".vm-copy-button").click()
    page.wait_for_selector(".vm-copy-button button >> text=Copied", timeout=20000)
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(base + "?scenario=default#session=")
    other = OfflinePage(b, 1366, 900)
    open_page(other.page, link)
    other.page.wait_for_selector(".vm-caption.vm-message >> text=opened the link: 2 changes replayed", timeout=30000)
    assert other.page.evaluate(PLUGGED) == 3 * 64
    other.page.wait_for_selector('.vm-stat[data-key="plugged"] .vm-stat-value >> text=384M', timeout=20000)
    other.page.evaluate("location.hash = '#session=AAAAgarbage'")           # a link cut off, in place
    other.page.wait_for_selector(".vm-caption.vm-message >> text=link:", timeout=30000)
    assert other.page.evaluate(PLUGGED) == 3 * 64                           # the page stayed as it was
    open_page(other.page, base + "?present=maybe")
    other.page.wait_for_selector(".vm-caption.vm-message >> text=URL parameter present", timeout=30000)
    # a trace file opens the same way (upload in the Export & share tab)
    s = Session(load_scenario("02_whole_block_removal.toml"))
    for _ in range(3):
        s.play_lesson_step()
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace_io.session_trace(s), default=int), encoding="utf-8")
    other.page.locator(".bk-tab", has_text="Export & share").first.click()
    other.page.locator(".vm-trace-upload input").set_input_files(str(path))
    other.page.wait_for_selector(".vm-caption.vm-message >> text=opened the trace: 3 changes replayed",
                                 timeout=30000)
    other.page.wait_for_function(PLUGGED.replace("return n;", f"return n == {s.machine.devices[0].plugged_size >> 21};"),
                                 timeout=30000)
    assert other.errors == [] and op.errors == [] and op.blocked == other.blocked == []
    other.close()
    op.close()
