"""TUI behaviour beyond single commands: play, bad input, loading, selection, the CLI entry."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest
from textual.widgets import Input

from tui_helpers import SIZE, make_app, screen_text, two_devices, wait_for
from vmemlab.cli import main as cli_main
from vmemlab.core.scenario import default
from vmemlab.core.view import Mark
from vmemlab.tui.event_log import EventList
from vmemlab.tui.forms import ActionForm
from vmemlab.tui.region_map import RegionMap
from vmemlab.tui.screens import ConfirmScreen, LoadScreen

M = 1 << 20


@pytest.mark.parametrize("typed,message", [
    ("301M", "not a multiple of block-size 2M"),
    ("8G", "4G"),
    ("lots", "'lots' is not a size"),
])
def test_bad_size_is_explained_in_the_form_and_changes_nothing(typed, message):
    async def go():
        app = make_app()
        app.session.play_lesson_step()
        async with app.run_test(size=SIZE) as pilot:
            before = (app.session.sandbox.position, app.session.machine.devices[0].requested_size)
            await pilot.press("equals_sign")
            await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
            app.screen.query_one(Input).value = typed
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ActionForm)
            text = screen_text(app)
            error = " ".join(str(app.screen.query_one("#form-error").render()).split())
            assert "refused, nothing changed:" in text and message in error
            assert "refused" not in str(app.query_one("#status").render())      # one report: the form's
            assert (app.session.sandbox.position, app.session.machine.devices[0].requested_size) == before
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
            assert app.session.sandbox.position == before[0]
    asyncio.run(go())


def test_refused_key_action_shows_the_reason_in_the_status_line():
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("minus")
            await pilot.pause()
            assert app.session.sandbox.position == 0
            assert "refused, nothing changed: shrink.by: requested-size would become negative" in screen_text(app)
    asyncio.run(go())


def test_load_a_file_and_a_bad_file(tmp_path):
    good = tmp_path / "small.toml"
    good.write_text('title = "Small one"\n[[device]]\nregion_size = "1G"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[device]]\nregion_size = "1G"\nsize = 3\n')

    async def go():
        app = make_app()
        app.session.play_lesson_step()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("L")
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            field = app.screen.query_one(Input)
            field.value = str(bad)
            await pilot.press("tab")
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert "cannot load:" in screen_text(app) and "unknown key 'size'" in screen_text(app)
            assert app.session.scenario.title == "A tour of virtio-mem" and app.session.cursor == 1
            field.value = str(good)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))   # the tour's step 1 is kept
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, (LoadScreen, ConfirmScreen)))
            assert app.session.scenario.title == "Small one" and app.session.sandbox.position == 0
            assert "Small one" in screen_text(app) and "8 memory blocks" in screen_text(app)
    asyncio.run(go())


def test_load_a_shipped_lesson_from_the_list():
    async def go():
        app = make_app()
        app.session.play_lesson_step()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("L")
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, (LoadScreen, ConfirmScreen)))
            assert app.session.cursor == 0 and app.session.machine.devices[0].plugged_size == 0
            assert "step 0/" in screen_text(app)
    asyncio.run(go())


@pytest.mark.parametrize("keys,selected", [
    (["right"], 1), (["l", "l"], 2), (["right", "left"], 0), (["h"], 0),
    (["down"], "one row"), (["j", "k"], 0), (["up"], 0), (["G"], 31), (["end", "g"], 0), (["home"], 0),
])
def test_moving_the_cursor_selects_a_block_and_shows_it(keys, selected):
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*keys)
            await pilot.pause()
            want = app.query_one(RegionMap).cols if selected == "one row" else selected
            assert app.selected == want
            assert app.query_one(RegionMap).selected == want
            assert f"block memory{32 + want}" in screen_text(app)
    asyncio.run(go())


def test_clicking_a_tile_selects_its_block():
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()                       # the first layout settles (the status bar)
            region_map = app.query_one(RegionMap)
            cell_w, tile_h = region_map.geometry
            x = region_map._label_width() + 3 * cell_w
            await pilot.click(RegionMap, offset=(x + region_map.styles.gutter.left,
                                                 region_map.styles.gutter.top + tile_h // 2))
            await pilot.pause()
            assert app.selected == 3
            assert "block memory35" in screen_text(app)
    asyncio.run(go())


def test_choosing_an_event_selects_its_memory_block():
    async def go():
        app = make_app()
        for _ in range(4):
            app.session.play_lesson_step()
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(EventList)
            table.focus()
            await pilot.pause()
            events = app.query_one("#events").shown
            index = next(i for i, e in enumerate(events) if e.memory_block == 36)
            table.move_cursor(row=index)
            await pilot.pause()
            assert app.selected == 36 - 32
            assert "block memory36" in screen_text(app)
    asyncio.run(go())


def test_map_marks_what_the_last_change_did_to_each_block():
    """Step 4 of the tour shrinks: each tile shows the mark core.view gives its block (x just
    removed, ~ just offlined, - just unplugged), else its state."""
    from vmemlab.core import view
    from vmemlab.tui.style import MAP_STYLES, map_codes

    async def go():
        app = make_app()
        for _ in range(4):
            app.session.play_lesson_step()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            region_map = app.query_one(RegionMap)
            m = app.session.machine
            marks = view.block_marks(m, 0, app.session.sandbox.last_events())
            assert np.array_equal(region_map.marks, marks) and (marks == Mark.REMOVED).any()
            want = [MAP_STYLES[c].glyph for c in map_codes(view.block_cells(m, 0), marks)]
            rows = [region_map.render_line(y).text for y in range(region_map.content_size.height)]
            glyphs = [g for r in rows for g in r.split(maxsplit=1)[1].replace("▸", " ").replace("◂", " ").split()]
            assert glyphs == want
    asyncio.run(go())


def test_second_device_is_shown_and_driven():
    async def go():
        app = make_app(scenario=two_devices())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("d", "plus", "s")
            await pilot.pause()
            m = app.session.machine
            assert m.devices[1].plugged_size == 128 * M and m.devices[0].plugged_size == 0
            assert "device vmem1" in screen_text(app)
    asyncio.run(go())


def test_modal_screens_block_app_keys():
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f1")
            await pilot.press("plus", "s")
            assert app.session.sandbox.position == 0
            await pilot.press("escape", "plus")
            await pilot.pause()
            assert app.session.sandbox.position == 1
    asyncio.run(go())


def test_cli_bad_file_exits_2(tmp_path, capsys):
    assert cli_main(["tui", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_cli_bad_export_dir_exits_2(tmp_path, capsys):
    assert cli_main(["tui", "--export-dir", str(tmp_path / "nope")]) == 2
    assert "--export-dir" in capsys.readouterr().err


def test_default_scenario_is_the_tour():
    assert make_app().session.scenario.title == default().title


def test_lesson_bar_asks_before_a_step_and_answers_after_it():
    from vmemlab.core.scenario import builtin

    async def go():
        app = make_app(scenario=builtin("01_resizable_dimm.toml"))
        session = app.session
        async with app.run_test(size=SIZE) as pilot:
            while (step := session.next_lesson_step()) is not None and not step.ask:
                session.play_lesson_step()
            app.refresh_views()
            await pilot.pause()
            assert f"predict first: {step.ask}" in " ".join(screen_text(app).split())
            await pilot.press("n")
            await pilot.pause()
            assert "answer:" in screen_text(app)
    asyncio.run(go())
