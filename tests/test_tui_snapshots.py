"""Snapshots of the main TUI states at 80x24 (a default terminal) and 120x40 (pytest-textual-snapshot).

Update after an intended visual change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/ before committing them (render them to PNG with
``chromium --headless --screenshot`` if your viewer cannot show SVG)."""
from __future__ import annotations

import pytest
from textual.widgets import Input

from tui_helpers import make_app
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario, builtin
from vmemlab.core.units import GiB, TiB

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def lesson_at(step: int, scenario=None):
    app = make_app(scenario=scenario)
    for _ in range(step):
        app.session.play_lesson_step()
    return app


async def no_blink(pilot) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_lesson_after_a_shrink(snap_compare, size):
    """Step 4 of the tour: blocks just removed (x), one just offlined (~), the status bar marks
    what moved; at 80x24 the compact layout with the legend of the glyphs on screen."""
    assert snap_compare(lesson_at(4), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_lesson_with_long_narration_says_more(snap_compare, size):
    """Lesson 17's intro is longer than the lesson box: a scrollbar and "▼ more" say so."""
    assert snap_compare(lesson_at(0, builtin("17_dimm_slots_4t.toml")), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_alloc_form(snap_compare, size):
    """`a`: every option of alloc on one line each, Apply and Cancel on screen."""
    async def open_form(pilot):
        await pilot.press("a")
        await no_blink(pilot)
    assert snap_compare(lesson_at(1), terminal_size=SIZES[size], run_before=open_form)


@pytest.mark.parametrize("size", SIZES)
def test_refused_size_in_form(snap_compare, size):
    """'=' then 301M: the form says why QEMU refuses it, once, and that nothing changed."""
    async def type_bad_size(pilot):
        await pilot.press("equals_sign", "3", "0", "1", "M", "enter")
        await no_blink(pilot)
    assert snap_compare(lesson_at(1), terminal_size=SIZES[size], run_before=type_bad_size)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, size):
    """F1: the help opens at its top; keys and glyphs follow below."""
    assert snap_compare(lesson_at(1), terminal_size=SIZES[size], press=["f1"])


@pytest.mark.parametrize("size", SIZES)
def test_kexec_asks_first(snap_compare, size):
    """`K` opens a form whose Apply is the second, deliberate key press."""
    assert snap_compare(lesson_at(1), terminal_size=SIZES[size], press=["K"])


def test_one_tib_region_aggregated(snap_compare):
    """A 1 TiB region (8192 memory blocks) aggregates tiles and says how many blocks a tile holds."""
    config = MachineConfig(boot_memory=16 * GiB, devices=(DeviceConfig(region_size=1 * TiB),))
    app = make_app(scenario=Scenario("1 TiB region", "Aggregated map.", config, []))
    app.session.do("request", size="20G")
    app.session.do("settle")
    assert snap_compare(app, press=["right", "right"], terminal_size=(120, 40))
