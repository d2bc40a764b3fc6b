"""Broken paths a teacher uses most, in chromium: the scenario picker across region shapes, the
requested-size slider and the timeline scrubber dragged to 0.

Every lesson is chosen from the picker right after a scenario of every other shape (the size of
the region map, its first block, its folding, one or two devices): the plot's drawn ranges must
be the new scenario's, and pixels of the canvas must have the colours of the new data.
"""
from __future__ import annotations

import json

import pytest

from vmemlab.core import view
from vmemlab.core.session import Session
from vmemlab.web import grid
from vmemlab.web.region_map import MARKS_GAP, MARKS_WIDTH, STRIP_GAP, STRIP_WIDTH
from vmemlab.web.state import load_scenario, scenario_names
from web_helpers import (LIVE_SOURCE, OfflinePage, drag_slider, open_page, pick, plot_sample, shot,
                         source_js, wrong_pixels)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")
# plugged subblocks in the region map image (codes from core.view.Chunk: OFFLINE and above)
MAP_CELLS = source_js("vm-region-image", "let n = 0; for (const v of m.data.image[0]) if (v >= 2) n++; return n;")


def expected_shape(name: str) -> dict:
    """What the region map of a freshly loaded scenario must draw: shape, x and y ranges."""
    m = Session(load_scenario(name)).machine
    drv = m.drivers[0]
    per = grid.blocks_per_row(drv.n_mb)
    rows, cols = grid.fold_rows(view.chunk_cells(m, 0), per).shape
    first = int(m.mem.mb_phys[drv.mb_off])
    return {"shape": [rows, cols], "x": [0, cols + STRIP_GAP + STRIP_WIDTH + MARKS_GAP + MARKS_WIDTH], "y": [first + rows * per, first],
            "key": (rows, cols, first, per, len(m.devices))}


def shape_walk(names: list[str], shapes: dict[str, dict]) -> list[str]:
    """An order of picks in which every lesson follows a scenario of every other shape once."""
    todo = {(s, n) for n in names for s in {v["key"] for v in shapes.values()} if s != shapes[n]["key"]}
    walk = [names[0]]
    while todo:
        here = shapes[walk[-1]]["key"]
        nxt = next((n for n in names if (here, n) in todo), None)
        if nxt is None:                       # nothing left from this shape: go where work is left
            wanted = {s for s, _n in todo}
            nxt = next(n for n in names if shapes[n]["key"] in wanted and n != walk[-1])
        todo.discard((here, nxt))
        walk.append(nxt)
    return walk


def test_every_lesson_draws_fully_after_every_other_shape(browser):
    b, base = browser
    names = scenario_names()
    shapes = {n: expected_shape(n) for n in names}
    assert len({s["key"] for s in shapes.values()}) >= 6        # the lessons do come in several shapes
    walk = shape_walk(names, shapes)
    op = OfflinePage(b, 1366, 900)
    page = op.page
    open_page(page, base)
    problems = []
    for k, name in enumerate(walk[1:], start=1):
        pick(page, name)
        want = shapes[name]
        page.wait_for_function(f"""([n, shape, y0, dh]) => {{ const m = ({LIVE_SOURCE})(n);
            return m && m.data.image.length && m.data.image[0].shape.join() == shape.join() &&
                   m.data.y[0] == y0 && m.data.dh[0] == dh; }}""",
                               arg=["vm-region-image", want["shape"], want["y"][1], want["y"][0] - want["y"][1]],
                               timeout=20000)
        page.wait_for_timeout(150)                              # one animation frame to draw it
        got = plot_sample(page, "vm-region-image")
        if got is None or got["x"] != want["x"] or got["y"] != want["y"] or wrong_pixels(got):
            problems.append((walk[k - 1], name, want, got))
            shot(page, f"picker-wrong-{k}-{name}")
    assert problems == [], f"{len(problems)} wrong of {len(walk) - 1}: " + json.dumps(problems[:2])
    assert op.errors == [] and op.blocked == []
    op.close()


def test_slider_to_zero_acts_the_first_time_from_any_position(browser):
    b, base = browser
    op = OfflinePage(b, 1366, 900)
    page = op.page
    open_page(page, base)
    page.locator(".vm-lesson-step button").click()                 # the lesson asks for 1 GiB
    page.wait_for_function(MAP_CELLS.replace("return n;", "return n == 8 * 64;"), timeout=20000)
    for gesture in ("after a lesson step", "after a drag to 0 and one more block"):
        drag_slider(page, ".vm-requested-slider", 0)
        page.wait_for_function(MAP_CELLS.replace("return n;", "return n == 0;"), timeout=20000)
        if gesture.startswith("after a lesson"):
            page.locator(".vm-do-grow button").click()              # +1 block: the slider moves to 128M
            page.wait_for_function(MAP_CELLS.replace("return n;", "return n == 64;"), timeout=20000)
    assert op.errors == [] and op.blocked == []
    op.close()


def test_scrubber_to_zero_acts_the_first_time_from_any_position(browser):
    b, base = browser
    op = OfflinePage(b, 1366, 768)
    page = op.page
    open_page(page, base + "?step=3")
    page.wait_for_function(MAP_CELLS.replace("return n;", "return n > 0;"), timeout=20000)
    drag_slider(page, ".vm-scrubber", 0)                            # back to the start
    page.wait_for_function(MAP_CELLS.replace("return n;", "return n == 0;"), timeout=20000)
    page.locator(".vm-redo button").click()
    page.wait_for_function(MAP_CELLS.replace("return n;", "return n > 0;"), timeout=20000)
    drag_slider(page, ".vm-scrubber", 0)                            # and again, from step 1
    page.wait_for_function(MAP_CELLS.replace("return n;", "return n == 0;"), timeout=20000)
    assert op.errors == [] and op.blocked == []
    op.close()
