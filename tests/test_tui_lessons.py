"""Lessons in the terminal UI: rewinding, playing, devices."""
from __future__ import annotations

import asyncio
import time

from textual import events

from helpers import fingerprint
from tui_helpers import SIZE, make_app, replayed, screen_text, wait_for
from vmemlab.core.actions import make
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Kind
from vmemlab.core.scenario import Scenario, builtin, default
from vmemlab.core.units import GiB, TiB
from vmemlab.tui.region_map import RegionMap


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
    asyncio.run(go())


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
    asyncio.run(go())


def test_play_runs_the_whole_lesson_one_request_per_tick_then_stops():
    async def go():
        app = make_app(play_interval=0.01)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("p")
            await wait_for(pilot, lambda: not app.player.playing, tries=3000)
            s = app.session
            assert s.next_lesson_step() is None and s.cursor == len(s.scenario.steps)
            assert s.machine.devices[0].plugged_size == 2 << 30
            assert [c.lesson_step for c in s.sandbox.changes()] == list(range(1, len(s.scenario.steps) + 1))
            assert "nothing left to play" in screen_text(app)
    asyncio.run(go())


def test_play_shows_one_device_request_per_tick_and_pause_keeps_the_settle_waiting():
    async def go():
        app = make_app(play_interval=0.05, scenario=Scenario("no lesson", "", default().config, []))
        app.session.do("request", size="4G")      # 32 device requests to plug
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("p")
            await wait_for(pilot, lambda: app.session.work is not None and app.session.work.steps >= 3)
            await pilot.press("p")
            work = app.session.work
            steps = work.steps
            requests = [e for e in work.events() if e.kind == Kind.REQUEST]
            assert len(requests) == steps                     # one device request per tick
            await pilot.pause(0.2)
            assert work.steps == steps and app.session.sandbox.position == 1   # paused: nothing moves
            assert "paused" in screen_text(app)
            await pilot.press("space")                        # one more request of the waiting settle
            assert work.steps == steps + 1
            await pilot.press("s")                            # finish it
            await wait_for(pilot, lambda: app.session.work is None)
            changes = app.session.sandbox.changes()
            assert [c.action.name for c in changes] == ["request", "settle"] and changes[1].max_steps is None
            assert app.session.machine.devices[0].plugged_size == 4 << 30
    asyncio.run(go())


def test_play_waits_after_a_lesson_step_until_n():
    async def go():
        app = make_app(play_interval=0.1)                  # hold: 40 ticks = 4 s
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("p")
            await wait_for(pilot, lambda: app.session.cursor == 1 and app.session.work is None, tries=500)
            assert app.player.hold_until is not None and app.player.hold_until - time.monotonic() > 1
            assert "next step in" in screen_text(app)
            await pilot.pause(0.2)
            assert app.session.cursor == 1                  # still holding
            await pilot.press("n")
            await wait_for(pilot, lambda: app.session.cursor == 2)
            assert app.player.playing
            await pilot.press("p")
    asyncio.run(go())


def test_a_long_settle_stays_live_and_escape_stops_it_consistently():
    """4 TiB of plugging (about 2 s) runs in slices: keys are handled in between, Esc stops at
    the next request, and the state equals a replay of the timeline (the settle recorded as cut
    short)."""
    async def go():
        config = MachineConfig(boot_memory=128 * GiB, devices=(DeviceConfig(region_size=4 * TiB),))
        app = make_app(scenario=Scenario("4 TiB", "", config, []))
        app.session.do("request", size="4T")
        async with app.run_test(size=SIZE) as pilot:
            app.post_message(events.Key("s", "s"))
            await wait_for(pilot, lambda: app.session.work is not None, tries=50)   # not done in one slice
            await wait_for(pilot, lambda: app.session.work is not None and app.session.work.steps > 5)
            assert "settling:" in screen_text(app) and "Esc stops" in screen_text(app)
            # keys as a terminal sends them (Pilot.press waits for an idle app: the settle's end)
            app.post_message(events.Key("right", None))     # the UI answers while it settles
            await wait_for(pilot, lambda: app.selected == app.query_one(RegionMap).per, tries=50)
            assert app.session.work is not None
            app.post_message(events.Key("escape", "\x1b"))
            await wait_for(pilot, lambda: app.session.work is None, tries=50)
            change = app.session.sandbox.changes()[-1]
            assert change.action.name == "settle" and change.max_steps is not None
            m = app.session.machine
            assert 0 < m.devices[0].plugged_size < 4 << 40
            assert fingerprint(m) == fingerprint(replayed(app.session.sandbox).machine)
            assert f"settle stopped after {change.max_steps} driver steps" in screen_text(app)
    asyncio.run(go())


def test_redo_of_a_long_settle_runs_in_slices_and_escape_stops_it_consistently():
    """Redoing a 1 TiB plug (its settle about half a second) runs in slices like play: the
    screen shows progress, keys are handled, Esc stops at the next request; the redo is then
    recorded as cut short (a new branch: the redo list is gone) and equals a replay."""
    async def go():
        config = MachineConfig(boot_memory=16 * GiB, devices=(DeviceConfig(region_size=1 * TiB),))
        app = make_app(scenario=Scenario("1 TiB", "", config, []))
        app.session.apply(make("request", size="1T"), settle=True)
        app.session.apply(make("note", text="later"))
        app.session.goto(0)
        async with app.run_test(size=SIZE) as pilot:
            app.post_message(events.Key("ctrl+y", None))
            await wait_for(pilot, lambda: app.session.work is not None and app.session.work.steps > 5)
            assert app.session.work.redoing and app.session.sandbox.position == 0
            assert "settling:" in screen_text(app) and "Esc stops" in screen_text(app)
            app.post_message(events.Key("escape", "\x1b"))
            await wait_for(pilot, lambda: app.session.work is None, tries=50)
            sb = app.session.sandbox
            change = sb.changes()[-1]
            assert sb.position == 1 and change.max_steps is not None and not sb.redo_stack
            m = app.session.machine
            assert 0 < m.devices[0].plugged_size < 1 << 40
            assert fingerprint(m) == fingerprint(replayed(sb).machine)
            assert f"settle stopped after {change.max_steps} driver steps" in screen_text(app)
    asyncio.run(go())


def test_scrubbing_to_the_end_redoes_everything_in_slices():
    async def go():
        config = MachineConfig(boot_memory=16 * GiB, devices=(DeviceConfig(region_size=1 * TiB),))
        app = make_app(scenario=Scenario("1 TiB", "", config, []))
        app.session.apply(make("note", text="first"))
        app.session.apply(make("request", size="1T"), settle=True)
        app.session.apply(make("note", text="last"))
        want = fingerprint(app.session.machine)
        app.session.goto(0)
        async with app.run_test(size=SIZE) as pilot:
            app.post_message(events.Key("right_curly_bracket", "}"))
            await wait_for(pilot, lambda: app.session.work is not None and app.session.work.steps > 5)
            await wait_for(pilot, lambda: app.session.sandbox.position == 3 and app.session.work is None, tries=500)
            assert fingerprint(app.session.machine) == want and not app.session.sandbox.redo_stack
    asyncio.run(go())


def test_play_and_its_speed_are_shown_in_the_lesson_bar():
    async def go():
        app = make_app(play_interval=30)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("p")
            await pilot.pause()
            assert "▶ 1 request every 30 s" in screen_text(app)
            await pilot.press("greater_than_sign")
            await pilot.pause()
            assert "▶ 1 request every 2 s" in screen_text(app)
            await pilot.press("p")
            await pilot.pause()
            assert "▶" not in screen_text(app) and "paused" in screen_text(app)
    asyncio.run(go())
