"""Layout at every size: every panel on screen, a fixed map scale, forms that fit 80x24."""
from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Input

from tui_helpers import make_app, screen_text, wait_for
from vmemlab.core.actions import ACTIONS
from vmemlab.core.scenario import builtin, default
from vmemlab.tui import commands
from vmemlab.tui.block_detail import BlockDetail
from vmemlab.tui.forms import ActionForm
from vmemlab.tui.region_map import RegionMap

SIZES = [(80, 24), (100, 30), (120, 40), (200, 60)]
PANELS = ["#lesson", "#statusbar", "#map", "#legend", "#detail", "#events", "#status", "#keys"]


def on_screen(app, selector: str) -> bool:
    """The widget is shown whole: its region (borders included) lies inside the screen."""
    widget = app.query_one(selector)
    r, (w, h) = widget.region, app.size
    return widget.display and r.width > 0 and r.height > 0 and r.x >= 0 and r.y >= 0 \
        and r.right <= w and r.bottom <= h


@pytest.mark.parametrize("lesson", ["default.toml", "04_own_region_4t.toml", "17_dimm_slots_4t.toml",
                                    "11_error_broken.toml"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_panel_is_on_screen_at_every_step(lesson, size):
    """Each step of the lesson, at each size: every panel whole on the screen, none overlapping,
    the side panels (when shown) unscrolled, the footer keeps F1 and n."""
    async def go():
        app = make_app(scenario=default() if lesson == "default.toml" else builtin(lesson))
        async with app.run_test(size=size) as pilot:
            while True:
                await pilot.pause()
                where = f"{lesson} step {app.session.cursor} at {size}"
                for selector in PANELS:
                    assert on_screen(app, selector), f"{selector} is not whole on screen: {where}"
                regions = [app.query_one(s).region for s in PANELS]
                for i, a in enumerate(regions):
                    assert not any(a.overlaps(b) for b in regions[i + 1:]), f"panels overlap: {where}"
                if size[0] >= 110:
                    right = app.query_one("#right")
                    assert right.max_scroll_y == 0, f"the side panels do not fit: {where}"
                keys = str(app.query_one("#keys").render())
                assert " F1 help" in keys and " n lesson" in keys, where
                if app.session.next_lesson_step() is None:
                    break
                await pilot.press("n")
                await wait_for(pilot, lambda: app.session.work is None)
    asyncio.run(go())


def test_the_broken_state_after_e_keeps_the_metrics_on_screen():
    async def go():
        app = make_app(scenario=builtin("11_error_broken.toml"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n", "E", "enter")
            await wait_for(pilot, lambda: app.session.machine.drivers[0].broken)
            await pilot.pause()
            assert on_screen(app, "#metrics") and app.query_one("#right").max_scroll_y == 0
            assert "broken" in screen_text(app)
    asyncio.run(go())


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_the_map_scale_is_fixed_for_the_whole_lesson(size):
    """Lesson 04 (4 TiB): a tile covers the same number of blocks at every step, whatever the
    height of the lesson text (it covered 16, then 8, then 16 blocks)."""
    async def go():
        app = make_app(scenario=builtin("04_own_region_4t.toml"))
        async with app.run_test(size=size) as pilot:
            region_map = app.query_one(RegionMap)
            seen = []
            while True:
                await pilot.pause()
                seen.append((region_map.per, region_map.geometry, region_map.cols))
                if app.session.next_lesson_step() is None:
                    break
                await pilot.press("n")
                await wait_for(pilot, lambda: app.session.work is None, tries=1000)
            assert len(set(seen)) == 1, seen
    asyncio.run(go())


def test_a_grouped_tile_shows_x_only_when_its_blocks_were_removed():
    """4 TiB at 80x24: 1024 blocks a tile. Removing 8 blocks of a group whose other blocks stay
    online shows the state (M), not x; removing a whole group shows x."""
    from vmemlab.core.config import DeviceConfig, MachineConfig
    from vmemlab.core.scenario import Scenario
    from vmemlab.core.units import GiB, TiB

    config = MachineConfig(boot_memory=128 * GiB, auto_online_blocks="online_movable",
                           devices=(DeviceConfig(region_size=4 * TiB),))

    async def go():
        app = make_app(scenario=Scenario("4 TiB", "", config, []))
        s = app.session
        s.do("request", size="256G")     # 2048 blocks: two whole tiles
        s.do("settle")
        async with app.run_test(size=(80, 24)) as pilot:
            region_map = app.query_one(RegionMap)
            await pilot.pause()
            per = region_map.per
            assert per == 1024
            s.do("request", size=f"{256 * 1024 - 1024}M")     # 8 blocks of the second tile go
            s.do("settle")
            app.refresh_views()
            await pilot.pause()
            glyphs = region_map._strips[0].text.split(maxsplit=1)[1].replace("◂", " ").split()
            assert glyphs[:2] == ["M", "M"]
            s.do("request", size="128G")                        # the whole second tile goes
            s.do("settle")
            app.refresh_views()
            await pilot.pause()
            glyphs = region_map._strips[0].text.split(maxsplit=1)[1].replace("◂", " ").split()
            assert glyphs[:2] == ["M", "x"]
    asyncio.run(go())


def form_actions() -> list[str]:
    return sorted({c.action.split("'")[1] for c in commands.all_commands() if c.action.startswith("act")
                   and commands.has_options(ACTIONS[c.action.split("'")[1]]) or
                   c.action.startswith("act") and commands.needs_form(ACTIONS[c.action.split("'")[1]])})


@pytest.mark.parametrize("name", form_actions())
def test_every_form_fits_80x24_with_its_error_and_buttons(name):
    """Every field, the refusal and Apply/Cancel are on screen at 80x24 (keyboard only)."""
    async def go():
        app = make_app()
        app.session.play_lesson_step()
        async with app.run_test(size=(80, 24)) as pilot:
            app.action_act_form(name)
            await wait_for(pilot, lambda: isinstance(app.screen, ActionForm) and bool(app.screen.query(Button)))
            form = app.screen
            form.show_error("a refusal that is long enough to wrap onto a second line of the form, as real ones do")
            for field in form.query(Input):
                field.value = ""
            await pilot.pause()
            for widget in list(form.query(".form-row")) + [form.query_one("#form-error"), form.query_one("#apply"),
                                                             form.query_one("#cancel")]:
                r = widget.region
                assert r.height > 0 and r.y >= 0 and r.bottom <= 24 and r.right <= 80, f"{name}: {widget} off screen"
    asyncio.run(go())


@pytest.mark.parametrize("size,panels", [((80, 24), False), ((80, 24), True), ((100, 30), True), ((120, 40), False)])
def test_the_bitmap_shows_all_64_subblocks(size, panels):
    async def go():
        app = make_app()
        app.session.play_lesson_step()
        async with app.run_test(size=size) as pilot:
            if panels:
                await pilot.press("i")
            await pilot.pause()
            await pilot.pause()
            detail = app.query_one(BlockDetail)
            lines = [line for line in str(detail.render()).splitlines() if line.startswith("sb")]
            shown = sum(len(line.split(maxsplit=2)[2].replace(" ", "")) for line in lines)
            assert shown == 64 and on_screen(app, "#detail"), (lines, size, panels)
    asyncio.run(go())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_long_narration_says_more_and_scrolls_from_the_keyboard(size):
    """Lesson 17's intro is longer than its box: never cut without a sign; Shift+Tab, then ↓,
    shows the rest, and the sign says where you are."""
    async def go():
        app = make_app(scenario=builtin("17_dimm_slots_4t.toml"))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            box = app.query_one("#lesson")
            assert box.max_scroll_y > 0 and box.border_subtitle.startswith("▼ more")
            await pilot.press("shift+tab")
            assert app.focused is box
            for _ in range(box.max_scroll_y):
                await pilot.press("down")
            await pilot.pause()
            assert box.scroll_y == box.max_scroll_y and box.border_subtitle.startswith("▲")
            last_words = " ".join(app.session.scenario.intro.split()[-4:])
            assert last_words in " ".join(screen_text(app).split())
    asyncio.run(go())
