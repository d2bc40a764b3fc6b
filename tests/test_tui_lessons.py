"""Lessons in the terminal UI: rewinding, playing, devices."""
from __future__ import annotations

import asyncio

from tui_helpers import SIZE, make_app, wait_for
from vmemlab.core.scenario import builtin
from vmemlab.tui.region_map import RegionMap


def run(coro):
    asyncio.run(coro)


def test_rewind_then_act_then_next_applies_step_one():
    """n, n, { (timeline start), any action, n: the lesson starts over at step 1."""
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("n", "n", "left_curly_bracket", "plus", "n")
            await wait_for(pilot, lambda: app.session.work is None)
            changes = app.session.sandbox.changes()
            assert [c.lesson_step for c in changes] == [0, 1]
            assert changes[1].action == app.session.scenario.steps[0].action
            assert app.session.cursor == 1
    run(go())


def test_row_labels_follow_the_shown_device():
    """d shows vmem1: each row of the map is labelled with vmem1's own memory block numbers
    (lesson 05 at 120x40: several rows per device; vmem1's second row read memory56, not memory88)."""
    async def go():
        app = make_app(scenario=builtin("05_numa_nodes.toml"))
        async with app.run_test(size=(120, 40)) as pilot:
            region_map = app.query_one(RegionMap)
            await pilot.press("d")
            await pilot.pause()
            m = app.session.machine
            first = int(m.mem.mb_phys[m.drivers[1].mb_off])
            labels = [s.text.split()[0] for s in region_map._strips if s.text.strip().startswith("memory")]
            assert len(labels) > 1
            per_row = region_map.cols * region_map.per
            assert labels == [f"memory{first + i * per_row}" for i in range(len(labels))]
    run(go())
