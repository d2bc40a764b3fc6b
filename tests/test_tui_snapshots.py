"""Snapshots of the main TUI states at fixed sizes (pytest-textual-snapshot).

Update after an intended visual change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/ before committing them."""
from __future__ import annotations

from textual.widgets import Input

from tui_helpers import make_app
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario
from vmemlab.core.units import GiB, TiB


def lesson_at(step: int):
    app = make_app()
    for _ in range(step):
        app.session.play_lesson_step()
    return app


def test_tour_after_shrink_wide(snap_compare):
    """Step 4 of the tour at 160x48: blocks just removed (x), one being offlined (~), every panel."""
    assert snap_compare(lesson_at(4), terminal_size=(160, 48))


def test_tour_after_shrink_80x24(snap_compare):
    """The same state on an 80x24 terminal: compact layout, summary line instead of side panels."""
    assert snap_compare(lesson_at(4), terminal_size=(80, 24))


def test_refused_size_in_form(snap_compare):
    """'=' then 301M: the form shows why QEMU refuses it and that nothing changed."""
    async def type_bad_size(pilot):
        await pilot.press("equals_sign", "3", "0", "1", "M")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.press("enter")
    assert snap_compare(lesson_at(1), terminal_size=(100, 30), run_before=type_bad_size)


def test_one_tib_region_aggregated(snap_compare):
    """A 1 TiB region (8192 memory blocks) aggregates tiles and says how many blocks a tile holds."""
    config = MachineConfig(boot_memory=16 * GiB, devices=(DeviceConfig(region_size=1 * TiB),))
    app = make_app(scenario=Scenario("1 TiB region", "Aggregated map.", config, []))
    app.session.do("request", size="20G")
    app.session.do("settle")
    assert snap_compare(app, press=["right", "right"], terminal_size=(160, 48))
