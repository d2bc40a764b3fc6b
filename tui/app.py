"""The vmemlab terminal UI: watch and drive one virtio-mem sandbox, block by block.

The app holds a Session and UI-only state (which device and block are selected, whether play
is on). Every change goes through ``core.actions`` via the session; every number shown comes
from ``core.view``. After each change ``refresh_views`` repaints all panels from the model.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterable

import numpy as np
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input

from vmemlab.core import view
from vmemlab.core.actions import ACTIONS, Action, ActionError, make
from vmemlab.core.memory import CHUNK_SIZE
from vmemlab.core.scenario import Scenario
from vmemlab.core.session import Session
from vmemlab.core.units import format_size, human

from . import commands
from .block_detail import BlockDetail
from .compare_view import CompareScreen
from .event_log import EventLog
from .forms import ActionForm
from .panels import DevicePanel, GuestPanel, MetricsPanel
from .region_map import MapLegend, RegionMap
from .screens import HelpScreen, LoadScreen, help_markdown
from .style import QuietStatic
from .trace import write_trace

PLAY_INTERVAL = 0.2
BLOCKED_IN_DIALOGS = commands.action_names() | {"command_palette"}


class Palette(CommandPalette):
    """Textual's command palette, guarded against keys that arrive after it closed: a fast
    ``enter enter`` selected a command twice and popped the last screen (ScreenStackError)."""

    @on(Input.Submitted)
    @on(Button.Pressed)
    def _select_or_command(self, event: Input.Submitted | Button.Pressed | None = None) -> None:
        if event is not None:
            event.prevent_default()          # the base class's handler would run it a second time
        if self.is_current:
            super()._select_or_command(event)
        elif event is not None:
            event.stop()


class VmemLabApp(App):
    """``VmemLabApp(session)``; ``vmemlab tui [FILE]`` builds the session from a scenario."""

    CSS_PATH = "app.tcss"
    TITLE = "vmemlab"
    BINDINGS = commands.bindings()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, session: Session | None = None, export_dir: Path | None = None,
                 play_interval: float = PLAY_INTERVAL) -> None:
        super().__init__()
        self.session = session or Session()
        self.export_dir = export_dir or Path.cwd()
        self.play_interval = play_interval
        self.device = 0
        self.selected = 0
        self.status = Text("")
        self._playing = False
        self._timer = None

    # ----- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▦")
        yield QuietStatic(id="lesson")
        yield QuietStatic(id="summary")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield RegionMap(id="map")
                yield MapLegend(id="legend")
                yield BlockDetail(id="detail")
                yield EventLog(id="events")
            with VerticalScroll(id="right"):
                yield DevicePanel(id="device")
                yield GuestPanel(id="guest")
                yield MetricsPanel(id="metrics")
        yield QuietStatic(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#lesson").border_title = "lesson"
        self.query_one("#guest").border_title = "guest (/proc/meminfo, sysfs)"
        self.query_one("#metrics").border_title = "metrics"
        self.query_one("#events").border_title = "events"
        self._timer = self.set_interval(self.play_interval, self._tick, pause=True)
        self.query_one(RegionMap).focus()
        self.refresh_views()

    # ----- repainting from the model ----------------------------------------------------
    def refresh_views(self) -> None:
        """Repaint every panel from ``session``; the only place the screen reads the model."""
        s = self.session
        m = s.machine
        self.device = min(self.device, len(m.devices) - 1)
        drv = m.drivers[self.device]
        dev = m.devices[self.device]
        self.sub_title = s.scenario.title
        cells = view.block_cells(m, self.device)
        self.selected = int(np.clip(self.selected, 0, max(0, len(cells) - 1)))
        first = int(m.mem.mb_phys[drv.mb_off])
        region_map = self.query_one(RegionMap)
        region_map.border_title = (f"region {dev.id} · {human(dev.region_size)} at {dev.addr:#x} · "
                                   f"{len(cells)} memory blocks of {human(m.mem.mb_size)}")
        region_map.show(cells, self._marks(first, len(cells)), first, m.mem.mb_size, self.selected)
        self._show_block()
        self.query_one(DevicePanel).show(view.device_panel(m, self.device))
        self.query_one(GuestPanel).show(view.guest_panel(m))
        self.query_one(MetricsPanel).show(s.sandbox.metrics_history(), cells, dev.region_size)
        pos, redo = s.sandbox.position, len(s.sandbox.redo_stack)
        timeline = f"timeline: {pos} action{'s' * (pos != 1)}" + (f", {redo} to redo" if redo else "")
        self.query_one(EventLog).show(s.sandbox.events, timeline)
        self._show_summary(dev, drv)
        self._show_lesson()

    def _marks(self, first: int, n: int) -> np.ndarray:
        """Per block of the shown device: 0, 1 (being offlined) or 2 (just removed)."""
        marks = np.zeros(n, dtype=np.uint8)
        hl = view.highlights(self.session.sandbox.last_events())
        if hl:
            ids = np.fromiter(hl.keys(), dtype=np.int64) - first
            kinds = np.array([2 if k == "removed" else 1 for k in hl.values()], dtype=np.uint8)
            inside = (ids >= 0) & (ids < n)
            marks[ids[inside]] = kinds[inside]
        return marks

    def _show_block(self) -> None:
        m = self.session.machine
        info = view.block_info(m, self.device, self.selected)
        drv = m.drivers[self.device]
        unit = "subblock" if drv.mode == "SBM" and drv.unit_size == CHUNK_SIZE else "2M chunk"
        self.query_one(BlockDetail).show(info, unit)

    def _show_lesson(self) -> None:
        """Title and progress; a quiz question before its step, the answer after it; narration."""
        s = self.session
        steps = len(s.scenario.steps)
        t = Text()
        t.append(s.scenario.title, "bold")
        t.append(f"  step {s.cursor}/{steps}", "#e69f00")
        if self._playing:
            t.append("  ▶ playing", "bold #009e73")
        nxt = s.next_lesson_step()
        t.append(f"  n: {nxt.action.label()}" if nxt else "  (end of the lesson: drive it yourself, F1 lists the keys)",
                 "#8a8a8a")
        if nxt is not None and nxt.ask:
            t.append(f"\npredict first: {nxt.ask}", "bold #cc79a7")
        done = s.scenario.steps[s.cursor - 1] if s.cursor else None
        if done is not None and done.ask and done.answer:
            t.append(f"\nanswer: {' '.join(done.answer.split())}", "#56b4e9")
        t.append("\n")
        t.append(" ".join(s.current_note().split()) or "(no narration for this step)")
        self.query_one("#lesson", QuietStatic).show_text(t)

    def _show_summary(self, dev, drv) -> None:
        """One line for narrow terminals, where the side panels are hidden (i shows them)."""
        mem = self.session.machine.mem
        t = Text()
        for label, value, colour in (("requested", format_size(dev.requested_size), "#e69f00"),
                                     ("plugged", format_size(dev.plugged_size), "#56b4e9"),
                                     (drv.mode, drv.status(), ""),
                                     ("MemTotal", human(mem.mem_total), ""), ("MemFree", human(mem.mem_free), ""),
                                     ("usable", format_size(dev.usable_region_size), "")):
            t.append(f"{label} ", "#8a8a8a")
            t.append(f"{value}  ", f"bold {colour}".strip())
        self.query_one("#summary", QuietStatic).show_text(t)

    def say(self, message: str, error: bool = False) -> None:
        self.status = Text.assemble(("refused: " if error else "", "bold #ff6b6b"),
                                    (message, "#ff6b6b" if error else "#8a8a8a"))
        self.query_one("#status", QuietStatic).show_text(self.status)
        self.query_one("#status").set_class(error, "-error")
        if error:
            self.notify(message, title="refused: nothing changed", severity="error", timeout=6)

    # ----- applying actions -------------------------------------------------------------
    def apply(self, action: Action) -> str | None:
        """Apply through the session; returns the refusal text (model unchanged) or None."""
        try:
            events = self.session.apply(action)
        except ActionError as e:
            self.say(str(e), error=True)
            return str(e)
        self.say(f"{action.label()}: {len(events)} events")
        self.refresh_views()
        return None

    def auto_args(self, name: str) -> dict:
        """Arguments the UI fills in: the shown device and the selected block."""
        m = self.session.machine
        names = {p.name for p in ACTIONS[name].params}
        args: dict = {}
        if "device" in names:
            args["device"] = m.devices[self.device].id
        if "block" in names:
            args["block"] = int(m.mem.mb_phys[m.drivers[self.device].mb_off + self.selected])
        return args

    def form_values(self, name: str) -> dict[str, str]:
        m = self.session.machine
        if name == "request":
            return {"size": format_size(m.devices[self.device].requested_size)}
        if name == "advance":
            timer = m.next_timer()
            return {"seconds": f"{max(1, int(timer - m.now + 1)) if timer is not None else 10}"}
        return {}

    def action_act(self, name: str) -> None:
        if commands.needs_form(ACTIONS[name]):
            self.action_act_form(name)
            return
        self.apply(make(name, **self.auto_args(name)))

    def action_act_form(self, name: str) -> None:
        self.push_screen(ActionForm(ACTIONS[name], self.apply, self.form_values(name), self.auto_args(name)))

    # ----- time travel and lessons ------------------------------------------------------
    def _moved(self, what: str) -> None:
        self.say(what)
        self.refresh_views()

    def action_undo(self) -> None:
        self._moved("undone" if self.session.undo() else "nothing to undo")

    def action_redo(self) -> None:
        self._moved("redone" if self.session.redo() else "nothing to redo")

    def action_scrub(self, delta: int) -> None:
        """One action back (goto) or forward (redo) on the timeline."""
        sb = self.session.sandbox
        if delta < 0 and sb.position:
            self.session.goto(sb.position - 1)
        elif delta > 0:
            self.session.redo()
        self._moved(f"timeline at action {sb.position}")

    def action_scrub_to(self, where: str) -> None:
        sb = self.session.sandbox
        if where == "start":
            self.session.goto(0)
        else:
            while self.session.redo():
                pass
        self._moved(f"timeline at action {sb.position}")

    def action_next_step(self) -> None:
        result = self.session.play_lesson_step()
        if result is None:
            self.say("the lesson has no more steps")
            self.refresh_views()
            return
        if result.error:
            self.say(f"step {result.step.index}: {result.error}", error=True)
        else:
            self.say(f"lesson step {result.step.index}: {result.step.action.label()}")
        self.refresh_views()

    def action_play(self) -> None:
        self._playing = not self._playing
        if self._playing:
            self._timer.resume()
        else:
            self._timer.pause()
        self.say("playing: one request per tick, then the next lesson step" if self._playing else "paused")
        self._show_lesson()

    def _tick(self) -> None:
        if self.session.machine.busy():
            if self.apply(make("step")) is not None:
                self.action_play()
        elif self.session.next_lesson_step() is not None:
            self.action_next_step()
        else:
            self.action_play()
            self.say("nothing left to play: the drivers are idle and the lesson is over")

    # ----- selection --------------------------------------------------------------------
    def on_region_map_block_selected(self, message: RegionMap.BlockSelected) -> None:
        self.selected = message.local_mb
        self._show_block()

    def on_event_log_event_chosen(self, message: EventLog.EventChosen) -> None:
        where = view.local_block(self.session.machine, message.event.memory_block)
        if where is None:
            return
        if where[0] != self.device:
            self.device = where[0]
            self.selected = where[1]
            self.refresh_views()
        else:
            self.selected = where[1]
            self.query_one(RegionMap).show_selected(self.selected)
            self._show_block()

    def action_panels(self) -> None:
        self.screen.toggle_class("-panels")

    def action_next_device(self) -> None:
        self.device = (self.device + 1) % len(self.session.machine.devices)
        self.selected = 0
        self._moved(f"showing {self.session.machine.devices[self.device].id}")

    # ----- files, screens ---------------------------------------------------------------
    def action_load(self) -> None:
        self.push_screen(LoadScreen(), self._loaded)

    def _loaded(self, scenario: Scenario | None) -> None:
        if scenario is None:
            return
        self.load_scenario(scenario)

    def load_scenario(self, scenario: Scenario) -> None:
        """Start over on ``scenario`` (play stops, selection resets)."""
        if self._playing:
            self.action_play()
        self.session.load(scenario)
        self.device = self.selected = 0
        self._moved(f"loaded {scenario.source}: {scenario.title}")

    def _export_name(self, suffix: str) -> Path:
        stem = Path(self.session.scenario.source).stem.replace("<", "").replace(">", "") or "scenario"
        return self.export_dir / f"vmemlab-{stem}-{self.session.sandbox.position}{suffix}"

    def action_export_svg(self) -> None:
        path = self._export_name(".svg")
        self.save_screenshot(path.name, str(path.parent))
        self.say(f"screenshot saved to {path.resolve()}")

    def action_export_trace(self) -> None:
        path = write_trace(self.session, self._export_name(".json"))
        self.say(f"trace saved to {path.resolve()}")

    def action_compare(self) -> None:
        self.push_screen(CompareScreen(self.session))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_markdown(commands.keys_markdown())))

    # ----- palette and guards -----------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for c in commands.all_commands():
            hint = f" ({c.key_hint})" if c.key_hint else ""
            yield SystemCommand(c.title, c.help + hint, partial(self.run_action, c.action))
        yield from (sc for sc in super().get_system_commands(screen) if sc.title not in ("Quit", "Screenshot"))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(Palette(id="--command-palette"))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """While a dialog is open, vmemlab's own commands wait (the keys belong to the dialog);
        Textual's focus moves (tab, shift+tab) keep working."""
        if isinstance(self.screen, ModalScreen) and action in BLOCKED_IN_DIALOGS:
            return False
        return super().check_action(action, parameters)
