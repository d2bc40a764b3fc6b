"""Dialogs work from the keyboard alone: focus moves, the palette survives fast typing."""
from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Input, OptionList, Select

from tui_helpers import SIZE, burst, make_app, wait_for
from vmemlab.core.actions import make
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario
from vmemlab.core.units import GiB, TiB
from vmemlab.tui.compare_view import CompareScreen
from vmemlab.tui.forms import ActionForm
from vmemlab.tui.screens import LoadScreen


def test_tab_and_shift_tab_move_focus_through_every_field_of_the_alloc_form():
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
            order = [w.id for w in app.screen.focus_chain]
            assert order[:2] == ["field-size", "field-kind"] and order[-2:] == ["apply", "cancel"]
            seen = [app.focused.id]
            for _ in range(len(order) - 1):
                await pilot.press("tab")
                seen.append(app.focused.id)
            assert seen == order
            await pilot.press("shift+tab")
            assert app.focused.id == order[-2]
    asyncio.run(go())


def test_an_unmovable_allocation_from_the_keyboard_alone():
    """a, type the size, tab to kind, pick kernel, enter on Apply: the pages are unmovable."""
    async def go():
        app = make_app()
        app.session.do("request", size="1G")
        app.session.do("settle")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a", "5", "0", "M", "tab")
            assert isinstance(app.focused, Select)
            await pilot.press("enter")                 # open the list
            await pilot.press("down", "down", "enter")  # anon -> cache -> kernel
            assert app.screen.query_one("#field-kind", Select).value == "kernel"
            await pilot.press("tab", "tab", "tab", "tab")
            assert isinstance(app.focused, Button) and app.focused.id == "apply"
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
            action = app.session.sandbox.actions()[-1]
            assert action.name == "alloc" and action.arg("kind") == "kernel" and action.arg("size") == 50 << 20
    asyncio.run(go())


def test_tab_reaches_the_path_field_of_the_load_dialog():
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("L")
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            assert isinstance(app.focused, OptionList)
            await pilot.press("tab")
            assert isinstance(app.focused, Input) and app.focused.id == "load-path"
            await pilot.press("shift+tab")
            assert isinstance(app.focused, OptionList)
    asyncio.run(go())


@pytest.mark.parametrize("keys", [("ctrl+p", "enter", "enter"), ("ctrl+p", "down", "enter", "enter"),
                                  ("ctrl+p", "enter", "enter", "enter", "enter")])
def test_fast_enter_in_the_command_palette_does_not_crash(keys):
    """A terminal delivers keys back to back: the second enter reached a palette already closed."""
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await burst(pilot, *keys)
            await pilot.pause(0.3)
            assert app.is_running and len(app.screen_stack) >= 1
    asyncio.run(go())


def test_the_comparison_at_4_tib_shows_progress_and_esc_closes_it_at_once(monkeypatch):
    """Replaying a 4 TiB session through three models takes seconds: it runs in a thread, the
    screen counts the seconds, and Esc closes it while it works. The comparison is held until
    the test lets it go, so the test does not depend on how fast the models are."""
    import threading

    from vmemlab.tui import compare_view
    config = MachineConfig(boot_memory=128 * GiB, devices=(DeviceConfig(region_size=4 * TiB),))
    scenario = Scenario("4 TiB", "", config, [])
    release = threading.Event()
    real = compare_view.comparison_text

    def held(*args):
        release.wait(30)
        return real(*args)
    monkeypatch.setattr(compare_view, "comparison_text", held)

    async def go():
        app = make_app(scenario=scenario)
        app.session.apply(make("request", size="4T"), settle=True)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
            screen = app.screen
            await pilot.pause(0.3)
            assert not screen.text and "Replaying 1 action" in str(screen.query_one("#compare-text").render())
            await pilot.press("escape")
            assert not isinstance(app.screen, CompareScreen) and app.is_running
            release.set()
            await pilot.press("minus")                     # the app goes on while the thread finishes
            assert app.session.sandbox.position == 2
    asyncio.run(go())
