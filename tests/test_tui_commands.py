"""Every key and every palette command of the TUI changes the model and the screen as promised.

Each case runs twice: once by its key, once through the command palette (ctrl+p), in a fresh app
on the built-in tour. ``setup`` prepares the session, ``typed`` fills a form if the command opens
one, and ``check`` asserts on the model and on the screen text."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Callable

import pytest
from textual.command import CommandList, CommandPalette
from textual.screen import ModalScreen
from textual.widgets import Input

from tui_helpers import SIZE, make_app, screen_text, two_devices, wait_for
from vmemlab.core.actions import make
from vmemlab.core.scenario import default
from vmemlab.core.session import Session
from vmemlab.core.units import parse_size
from vmemlab.tui import commands
from vmemlab.tui.app import VmemLabApp
from vmemlab.tui.compare_view import CompareScreen
from vmemlab.tui.forms import ActionForm
from vmemlab.tui.screens import HelpScreen, LoadScreen

M = 1 << 20


def plugged_to(size: str) -> Callable[[Session], None]:
    def setup(s: Session) -> None:
        s.do("request", size=size)
        s.do("settle")
    return setup


def nothing(s: Session) -> None:
    pass


@dataclass
class Case:
    title: str
    check: Callable[[VmemLabApp, dict, str], None]
    setup: Callable[[Session], None] = nothing
    typed: list[str] = field(default_factory=list)   # keys for a form the command opens
    scenario: Callable | None = None


def before_state(app: VmemLabApp) -> dict:
    m = app.session.machine
    return {"requested": m.devices[0].requested_size, "plugged": m.devices[0].plugged_size,
            "position": app.session.sandbox.position, "free": m.mem.mem_free, "now": m.now,
            "events": len(app.session.sandbox.events), "boots": m.boot_count, "cursor": app.session.cursor,
            "selected": app.selected, "device": app.device, "panels": app.screen.has_class("-panels"),
            "interval": app.player.interval, "follow": app.follow}


def row(text: str, label: str, value: str) -> bool:
    """A panel row ``label  value`` is on the screen."""
    return re.search(rf"{re.escape(label)} +{re.escape(value)}\b", text) is not None


def dev(app):
    return app.session.machine.devices[0]


def check_grow(app, b, text):
    assert dev(app).requested_size == b["requested"] + 128 * M
    assert row(text, "requested", "128M")


def check_shrink(app, b, text):
    assert dev(app).requested_size == b["requested"] - 128 * M == 128 * M
    assert row(text, "requested", "128M")


def check_request(app, b, text):
    assert dev(app).requested_size == parse_size("1G")
    assert row(text, "requested", "1G") and "host: qom-set vmem0 requested-size 1G" in text


def check_step(app, b, text):
    assert dev(app).plugged_size == b["plugged"] + 128 * M < dev(app).requested_size
    assert row(text, "plugged", "128M") and "step: 4 events" in text
    assert any(e.text.startswith("PLUG device block") for e in app.query_one("#events").shown)


def check_settle(app, b, text):
    assert dev(app).plugged_size == dev(app).requested_size == 256 * M
    assert row(text, "plugged", "256M") and row(text, "driver (SBM)", "idle")


def check_migration(app, b, text):
    assert dev(app).migrating
    assert "running (BUSY)" in text


def check_reset(app, b, text):
    assert app.session.machine.boot_count == b["boots"] + 1 and dev(app).plugged_size == 0
    assert "system reset" in text


def check_kexec(app, b, text):
    assert app.session.machine.boot_count == b["boots"] + 1 and dev(app).plugged_size == 256 * M
    assert "kexec" in text


def check_host_memory(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "host_memory" and dev(app).host_memory is None
    assert "host_memory" in text


def check_kdump(app, b, text):
    assert app.session.machine.boot_count == b["boots"] + 1 and dev(app).plugged_size == 0
    assert "kdump" in text


def check_suspend(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "suspend" and dev(app).plugged_size == b["plugged"]
    assert "suspend" in text


def check_hibernate(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "hibernate" and dev(app).plugged_size == b["plugged"]
    assert "hibernate" in text


def check_state(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "state" and dev(app).plugged_size == b["plugged"]
    assert "state" in text


def check_alloc(app, b, text):
    # anonymous memory needs its page tables too: one 4 KiB page per 2 MiB mapped
    tables = 100 * M // (2 * M) * 4096
    assert app.session.machine.mem.mem_free == b["free"] - 100 * M - tables
    assert "alloc size=100M" in text


def check_free(app, b, text):
    assert app.session.machine.mem.mem_free > b["free"]
    assert "of anon pages freed" in text


def check_fragment(app, b, text):
    assert app.session.sandbox.position == b["position"] + 1
    assert "fragment:" in text


def check_pin(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "pin"
    assert "pinned movable pages" in text


def check_offline(app, b, text):
    m = app.session.machine
    assert not m.mem.mb_online[m.mem.phys_to_mb[32]]
    assert "state offline" in text


def check_online(app, b, text):
    m = app.session.machine
    assert m.mem.mb_online[m.mem.phys_to_mb[32]]
    assert "state online" in text


def check_buggy(app, b, text):
    assert app.session.machine.drivers[0].broken
    assert "broken" in text


def check_advance(app, b, text):
    assert app.session.machine.now >= b["now"] + 10
    assert "advance seconds=10" in text


def check_retry_refused(app, b, text):
    assert app.session.sandbox.position == b["position"]
    assert "refused, nothing changed: retry: no retry timer is armed" in text


def check_note(app, b, text):
    assert app.session.sandbox.actions()[-1].name == "note"
    assert "hello class" in text


def check_restart(app, b, text):
    assert app.session.sandbox.position == 0 and app.session.cursor == 0
    assert "lesson restarted" in text and "2 to redo" in text and "n: request size=1G" in text


def check_slower(app, b, text):
    assert app.player.interval > b["interval"]
    assert f"play speed: {app.player.speed_text()}" in text and "request" in text


def check_faster(app, b, text):
    assert app.player.interval < b["interval"]
    assert f"play speed: {app.player.speed_text()}" in text and "request" in text


def check_follow(app, b, text):
    assert app.follow != b["follow"]
    if app.follow:
        assert app.selected == 7          # memory39: the last block step 1 plugged
        assert "following the active block" in text and "block memory39" in text
    else:
        assert "not following" in text


def pending_settle(s: Session) -> None:
    s.do("request", size="1G")
    s.start(make("settle")).run(steps=2)


def check_stop_settling(app, b, text):
    assert app.session.work is None
    assert app.session.sandbox.changes()[-1].max_steps == 2
    assert "settle stopped after 2 driver steps" in text


def two_steps(s: Session) -> None:
    s.play_lesson_step()
    s.play_lesson_step()


def check_undo(app, b, text):
    assert app.session.sandbox.position == b["position"] - 1 and dev(app).requested_size == 256 * M
    assert "1 to redo" in text


def check_redo(app, b, text):
    assert app.session.sandbox.position == b["position"] + 1 and dev(app).requested_size == 256 * M
    assert "timeline: 2 actions" in text


def check_start(app, b, text):
    assert app.session.sandbox.position == 0 and dev(app).requested_size == 0
    assert "2 to redo" in text


def check_end(app, b, text):
    assert app.session.sandbox.position == 2 and dev(app).plugged_size == 256 * M
    assert "timeline: 2 actions" in text


def undone_twice(s: Session) -> None:
    plugged_to("256M")(s)
    s.undo()
    s.undo()


def check_next_step(app, b, text):
    assert app.session.cursor == 1 and dev(app).plugged_size == parse_size("1G")
    assert "step 1/6" in text and "The host asks for 1 GiB" in text


def check_next_device(app, b, text):
    assert app.device == 1
    assert "region vmem1" in text


def check_panels(app, b, text):
    assert app.screen.has_class("-panels") != b["panels"]
    assert ("guest (/proc/meminfo, sysfs)" in text) == b["panels"]      # wide layout: shown, then hidden


def check_export_svg(app, b, text):
    files = list(app.export_dir.glob("*.svg"))
    assert len(files) == 1 and files[0].read_text().lstrip().startswith("<svg")
    assert "screenshot saved to" in text


def check_export_trace(app, b, text):
    files = list(app.export_dir.glob("*.json"))
    data = json.loads(files[0].read_text())
    assert [(d["action"], d.get("size")) for d in data["actions"]] == [("request", "256M"), ("settle", None)]
    assert data["config"]["devices"][0]["region_size"] == "4G"
    assert "trace saved to" in text


def check_compare(app, b, text):
    assert app.session.sandbox.position == b["position"]      # comparing changes nothing
    assert isinstance(app.screen, CompareScreen)
    shown = str(app.screen.query_one("#compare-text").render())
    assert "virtio-balloon" in shown and "ACPI DIMM" in shown and "granularity" in shown
    assert "last resize: action 1 of this session (request size=256M)" in shown


def check_help(app, b, text):
    assert isinstance(app.screen, HelpScreen)
    assert "vmemlab: virtio-mem, block by block" in text


def check_load(app, b, text):
    assert isinstance(app.screen, LoadScreen)
    assert "default.toml" in text


def check_quit(app, b, text):
    assert app._exit or not app.is_running


CASES = {
    "host: request…": Case("host: request…", check_request, typed=["1", "G", "enter"]),
    "host: grow": Case("host: grow", check_grow),
    "host: shrink": Case("host: shrink", check_shrink, plugged_to("256M")),
    "host: migration": Case("host: migration", check_migration),
    "host: reset…": Case("host: reset…", check_reset, plugged_to("256M"), typed=["enter"]),
    "host: kexec…": Case("host: kexec…", check_kexec, plugged_to("256M"), typed=["enter"]),
    "guest: alloc…": Case("guest: alloc…", check_alloc, typed=["1", "0", "0", "M", "enter"]),
    "guest: free": Case("guest: free", check_free, lambda s: s.do("alloc", size="100M")),
    "guest: fragment": Case("guest: fragment", check_fragment),
    "guest: pin": Case("guest: pin", check_pin, lambda s: s.do("alloc", size="100M")),
    "guest: online": Case("guest: online", check_online, lambda s: (plugged_to("128M")(s), s.do("offline", block=32))),
    "guest: offline": Case("guest: offline", check_offline, plugged_to("128M")),
    "guest: buggy_request…": Case("guest: buggy_request…", check_buggy, typed=["enter"]),
    "time: step": Case("time: step", check_step, lambda s: s.do("request", size="1G")),
    "time: settle": Case("time: settle", check_settle, lambda s: s.do("request", size="256M")),
    "time: advance…": Case("time: advance…", check_advance, typed=["enter"]),
    "time: retry": Case("time: retry", check_retry_refused),
    "lesson: note…": Case("lesson: note…", check_note, typed=list("hello") + ["space"] + list("class") + ["enter"]),
    "host: host_memory": Case("host: host_memory", check_host_memory),
    "guest: kdump": Case("guest: kdump", check_kdump, plugged_to("256M")),
    "guest: suspend": Case("guest: suspend", check_suspend, plugged_to("256M")),
    "guest: hibernate": Case("guest: hibernate", check_hibernate, plugged_to("256M")),
    "guest: state": Case("guest: state", check_state, plugged_to("256M")),
    "ui: undo": Case("ui: undo", check_undo, plugged_to("256M")),
    "ui: redo": Case("ui: redo", check_redo, lambda s: (plugged_to("256M")(s), s.undo())),
    "ui: scrub back": Case("ui: scrub back", check_undo, plugged_to("256M")),
    "ui: scrub forward": Case("ui: scrub forward", check_redo, lambda s: (plugged_to("256M")(s), s.undo())),
    "ui: timeline start": Case("ui: timeline start", check_start, plugged_to("256M")),
    "ui: timeline end": Case("ui: timeline end", check_end, undone_twice),
    "ui: next lesson step": Case("ui: next lesson step", check_next_step),
    "ui: restart lesson": Case("ui: restart lesson", check_restart, two_steps),
    "ui: slower": Case("ui: slower", check_slower),
    "ui: faster": Case("ui: faster", check_faster),
    "ui: follow the active block": Case("ui: follow the active block", check_follow,
                                        lambda s: s.play_lesson_step()),
    "ui: stop settling": Case("ui: stop settling", check_stop_settling, pending_settle),
    "ui: side panels": Case("ui: side panels", check_panels),
    "ui: next device": Case("ui: next device", check_next_device, scenario=two_devices),
    "ui: export SVG screenshot": Case("ui: export SVG screenshot", check_export_svg),
    "ui: export trace JSON": Case("ui: export trace JSON", check_export_trace, plugged_to("256M")),
    "ui: compare": Case("ui: compare", check_compare, plugged_to("256M")),
    "ui: help": Case("ui: help", check_help),
    "ui: load scenario…": Case("ui: load scenario…", check_load),
    "ui: quit": Case("ui: quit", check_quit),
}
# Commands that are the same action with a form first ("grow…") and play (its own test).
FORM_VARIANTS = {c.title for c in commands.all_commands() if c.action.startswith("act_form")}
SEPARATE = {"ui: play / pause"}


def test_every_command_has_a_case():
    titles = {c.title for c in commands.all_commands()}
    assert titles - FORM_VARIANTS - SEPARATE == set(CASES)


def routes(title: str) -> list[str]:
    """Key first (when the command has one), then the palette, in one app; quit needs two apps."""
    keyed = bool(next(c for c in commands.all_commands() if c.title == title).keys)
    return (["key"] if keyed else []) + ["palette"]


async def invoke(app, pilot, case: Case, route: str) -> None:
    command = next(c for c in commands.all_commands() if c.title == case.title)
    if route == "key":
        await pilot.press(command.keys.split(",")[0])
    else:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        app.screen.query_one(Input).value = case.title
        await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))
    if isinstance(app.screen, CompareScreen):
        await wait_for(pilot, lambda: bool(app.screen.text), tries=1000)   # the replay runs in a thread
    if case.typed:
        await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
        for key in case.typed:
            await pilot.press(key)
        await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
    await pilot.pause()


async def run_case(case: Case, route_list: list[str], tmp_path) -> None:
    scenario = case.scenario() if case.scenario else default()
    app = make_app(tmp_path, scenario)
    async with app.run_test(size=SIZE) as pilot:
        for route in route_list:
            while isinstance(app.screen, ModalScreen):
                app.pop_screen()
            app.export_dir = tmp_path / route
            app.export_dir.mkdir()
            app.load_scenario(scenario)
            case.setup(app.session)
            app.refresh_views()
            await pilot.pause()
            before = before_state(app)
            await invoke(app, pilot, case, route)
            case.check(app, before, screen_text(app) if app.is_running else "")


@pytest.mark.parametrize("title", [t for t in CASES if t != "ui: quit"])
def test_command(title, tmp_path):
    """The command works by its key and through the palette."""
    asyncio.run(run_case(CASES[title], routes(title), tmp_path))


@pytest.mark.parametrize("route", ["key", "palette"])
def test_quit(route, tmp_path):
    asyncio.run(run_case(CASES["ui: quit"], [route], tmp_path))
