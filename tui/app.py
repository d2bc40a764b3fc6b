"""The vmemlab terminal UI: watch and drive one virtio-mem sandbox, block by block.

The app holds a Session and UI-only state (which device and block are selected, play, follow).
Every change goes through ``core.actions`` via the session; every number shown comes from
``core.view``. After each change ``refresh_views`` repaints all panels from the model.

A change whose settle takes long (a 4 TiB plug, a busy drain) is a ``Work``: it runs in slices
of about ``SLICE`` seconds from a timer on the UI loop, so keys and repaints go on in between,
and ``Esc`` cancels it at the next device request. Play drives the same Work one device request
per tick instead.
"""
from __future__ import annotations

import time
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
from textual.widgets import Button, Header, Input

from vmemlab.core import view
from vmemlab.core.actions import ACTIONS, Action, ActionError, make
from vmemlab.core.sandbox import Work
from vmemlab.core.scenario import Scenario
from vmemlab.core.session import Session
from vmemlab.core.trace_io import TraceError
from vmemlab.core.units import format_size, human, readable_size

from . import commands, recovery
from .block_detail import BlockDetail
from .compare_view import CompareScreen
from .event_log import EventLog
from .forms import ActionForm
from .panels import DevicePanel, GuestPanel, KeyBar, MetricsPanel, StatusBar
from .player import Player
from .region_map import MapLegend, RegionMap, full_legend
from .screens import ConfirmScreen, HelpScreen, LoadChoice, LoadScreen, glyph_table, help_markdown
from .style import QuietStatic, chunk_legend_entries, map_legend_entries, MARK_BASE
from .text import plural
from .trace import write_trace

PLAY_INTERVAL = 0.2
SLICE = 0.03              # seconds of model work per slice of a long settle
REPAINT_EVERY = 0.1       # while a long settle runs, the panels repaint at most this often
BLOCKED_IN_DIALOGS = commands.action_names() - {"quit"} | {"command_palette"}


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


class LessonBox(VerticalScroll):
    """The lesson text's box: it scrolls when the narration is longer than the room, and says so."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.app.call_after_refresh(self.app._mark_more)


class VmemLabApp(App):
    """``VmemLabApp(session)``; ``vmemlab tui [FILE]`` builds the session from a scenario.

    ``state_dir``: where sessions are saved on quit, load and crash (None: not saved)."""

    CSS_PATH = "app.tcss"
    TITLE = "vmemlab"
    BINDINGS = commands.bindings()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, session: Session | None = None, export_dir: Path | None = None,
                 play_interval: float = PLAY_INTERVAL, state_dir: Path | None = None) -> None:
        super().__init__()
        self.session = session or Session()
        self.export_dir = export_dir or Path.cwd()
        self.state_dir = state_dir
        self.player = Player(play_interval)
        self.device = 0
        self.selected = 0
        self.follow = False
        self.saved_to: Path | None = None          # where the last quit or crash saved the session
        self._fast = False                          # a pending Work runs in slices (not by play)
        self._redo_all = False                      # scrubbing to the end: redo the next when one ends
        self._painted = 0.0
        self._marks_key: tuple | None = None
        self._marks = np.zeros(0, dtype=np.uint8)
        self._marks_done = 0
        self._work_what = ""
        self._play_timer = None
        self._work_timer = None

    # ----- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▦")
        with LessonBox(id="lesson"):
            yield QuietStatic(id="lesson-text")
        yield StatusBar(id="statusbar")
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
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.query_one("#lesson").border_title = "lesson"
        self.query_one("#guest").border_title = "guest (/proc/meminfo, sysfs)"
        self.query_one("#metrics").border_title = "metrics"
        self.query_one("#events").border_title = "events"
        self._play_timer = self.set_interval(self.player.interval, self._tick, pause=True)
        self._work_timer = self.set_interval(0.005, self._slice, pause=True)
        self.query_one(RegionMap).focus()
        self.refresh_views()
        self._offer_saved_session()

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_views)

    # ----- repainting from the model ----------------------------------------------------
    def refresh_views(self) -> None:
        """Repaint every panel from ``session``; the only place the screen reads the model."""
        s = self.session
        m = s.machine
        self._painted = time.monotonic()
        self.device = min(self.device, len(m.devices) - 1)
        dev = m.devices[self.device]
        drv = m.drivers[self.device]
        self.sub_title = s.scenario.title
        cells = view.block_cells(m, self.device)
        events = self._change_events()
        marks = self._block_marks(events)
        if self.follow:
            self._follow(events)
        self.selected = int(np.clip(self.selected, 0, max(0, len(cells) - 1)))
        first = int(m.mem.mb_phys[drv.mb_off])
        region_map = self.query_one(RegionMap)
        region_map.follow = self.follow
        region_map.border_title = (f"region {dev.id} · {human(dev.region_size)} at {dev.addr:#x} · "
                                   f"{plural(len(cells), 'memory block')} of {human(m.mem.mb_size)}")
        region_map.show(cells, marks, first, m.mem.mb_size, self.selected)
        full = full_legend(*self.size)
        self.query_one(MapLegend).set_class(not full, "-compact")
        self.query_one(MapLegend).show(None if full else region_map.codes_shown)
        self._show_block()
        history = s.sandbox.metrics_history()
        before = history[-1] if s.work is not None else history[-2] if len(history) > 1 else None
        changed = events if s.work is not None or s.sandbox.position else []     # boot changed nothing
        self.query_one(StatusBar).show(view.status_bar(m, self.device, before, changed))
        self.query_one(DevicePanel).show(view.device_panel(m, self.device))
        self.query_one(GuestPanel).show(view.guest_panel(m))
        self.query_one(MetricsPanel).show(history, cells, dev.region_size)
        pos, redo = s.sandbox.position, len(s.sandbox.redo_stack)
        timeline = f"timeline: {plural(pos, 'action')}" + (f", {redo} to redo" if redo else "")
        self.query_one(EventLog).show(s.sandbox.events, timeline)
        self._show_lesson()
        self._show_keys()

    def _show_keys(self) -> None:
        self.query_one(KeyBar).show(commands.footer_hints(self.session.work is not None, self.player.playing))

    def _change_events(self) -> list:
        """The events of the change on screen: the running Work's so far, else the last change's."""
        work = self.session.work
        return work.events() if work is not None else self.session.sandbox.last_events()

    def _block_marks(self, events: list) -> np.ndarray:
        """``view.block_marks`` of the change on screen, kept up to date incrementally while a
        long settle adds events (a 4 TiB plug has ~100k: never walk them all per slice)."""
        sb = self.session.sandbox
        work = self.session.work
        first = work.first_event if work is not None else (sb.entries[-1].first_event if sb.entries else -1)
        key = (id(sb), id(sb.machine), self.device, sb.position, first)
        m = self.session.machine
        if key == self._marks_key and len(events) >= self._marks_done:
            new = events[self._marks_done:]
            if new:
                self._marks = np.maximum(self._marks, view.block_marks(m, self.device, new))
        else:
            self._marks = view.block_marks(m, self.device, events)
        self._marks_key, self._marks_done = key, len(events)
        return self._marks

    def _follow(self, events: list) -> None:
        """Select the block of the last event on the shown device that names one."""
        for e in reversed(events):
            if e.memory_block >= 0:
                where = view.local_block(self.session.machine, e.memory_block)
                if where is not None and where[0] == self.device:
                    self.selected = where[1]
                    return

    def _show_block(self) -> None:
        m = self.session.machine
        info = view.block_info(m, self.device, self.selected)
        self.query_one(BlockDetail).show(info, view.map_unit(m, self.device).name)

    def _show_lesson(self) -> None:
        """Title, progress, play state; a quiz question before its step, the answer after it;
        the narration of the step on screen."""
        s = self.session
        steps = len(s.scenario.steps)
        t = Text()
        t.append(s.scenario.title, "bold")
        playing = s.playing_step
        shown = playing.index if playing is not None else s.cursor
        t.append(f"  step {shown}/{steps}" + (" (running)" if playing is not None else ""), "#e69f00")
        if self.player.playing:
            t.append(f"  ▶ {self.player.speed_text()}", "bold #009e73")
            if self.player.hold_until is not None:
                left = max(0, self.player.hold_until - time.monotonic())
                t.append(f", next step in {left:.0f} s", "#009e73")
        nxt = s.next_lesson_step() if playing is None else None
        if playing is None:
            t.append(f"  n: {nxt.action.label()}" if nxt else "  (end of the lesson: drive it yourself, F1 lists the keys)",
                     "#8a8a8a")
        if nxt is not None and nxt.ask:
            t.append(f"\npredict first: {nxt.ask}", "bold #cc79a7")
        done = s.scenario.steps[shown - 1] if shown else None
        if done is not None and done.ask and done.answer and playing is None:
            t.append(f"\nanswer: {' '.join(done.answer.split())}", "#56b4e9")
        t.append("\n")
        t.append(" ".join(s.current_note().split()) or "(no narration for this step)")
        if self.query_one("#lesson-text", QuietStatic).show_text(t):
            self.call_after_refresh(self._mark_more)

    def _mark_more(self) -> None:
        """Never cut the narration without a sign: say so when it scrolls."""
        box = self.query_one("#lesson", VerticalScroll)
        more = box.max_scroll_y > 0
        subtitle = ("▼ more: Shift+Tab, then ↓" if box.scroll_y < box.max_scroll_y else "▲ ↑ scrolls back") \
            if more else ""
        if box.border_subtitle != subtitle:
            box.border_subtitle = subtitle
        box.set_class(more, "-more")

    def say(self, message: str, error: bool = False) -> None:
        """The one status line: what happened, or why nothing did (no toasts, no second report)."""
        text = Text.assemble(("refused, nothing changed: " if error else "", "bold #ff6b6b"),
                             (message, "#ff6b6b" if error else "#8a8a8a"))
        self.query_one("#status", QuietStatic).show_text(text)
        self.query_one("#status").set_class(error, "-error")

    # ----- applying actions -------------------------------------------------------------
    def apply(self, action: Action) -> str | None:
        """Apply through the session; returns the refusal text (model unchanged) or None.
        A settle runs in slices (see ``_run``); the caller reports a refusal (the form in the
        form, a key in the status line), once."""
        try:
            work = self.session.start(action)
        except ActionError as e:
            self.refresh_views()
            return str(e)
        self._run(work, action.label())
        return None

    def _run(self, work: Work, what: str) -> None:
        """Drive ``work``: at once when it is short, else in slices from the work timer."""
        self._fast = True
        if work.run(seconds=SLICE):
            self._finished(work, what)
        else:
            self._work_what = what
            self._work_timer.resume()
            self._progress(work)
            self.refresh_views()

    def _slice(self) -> None:
        work = self.session.work
        if work is None or not self._fast:
            self._fast = False
            self._work_timer.pause()
            self.refresh_views()
            return
        if work.run(seconds=SLICE):
            self._fast = False
            self._work_timer.pause()
            self._finished(work, self._work_what)
            return
        self._progress(work)
        if time.monotonic() - self._painted >= REPAINT_EVERY:
            self.refresh_views()

    def _progress(self, work: Work) -> None:
        dev = self.session.machine.devices[self.device]
        self.say(f"settling: {plural(work.steps, 'driver step')} so far · plugged {readable_size(dev.plugged_size)}"
                 f", requested {readable_size(dev.requested_size)} · Esc stops here")

    def _finished(self, work: Work, what: str) -> None:
        """Report a finished change; play waits after a lesson step so the class can read."""
        step = work.change.lesson_step
        events = work.events()
        if step and self.player.playing:
            self.player.hold_until = time.monotonic() + self.player.hold_seconds
        if step and self.session.step_error:
            self.say(f"lesson step {step} ({what}): {self.session.step_error}", error=True)
        elif step:
            self.say(f"lesson step {step}: {what}: {plural(len(events), 'event')}")
        else:
            self.say(f"{work.change.label()}: {plural(len(events), 'event')}")
        if self._redo_all and work.redoing:
            self._redo(all_of_it=True)
            return
        self._redo_all = False
        self.refresh_views()

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
        if name == "step" and self.session.work is not None:
            self._step_pending()
            return
        if name == "settle" and self.session.work is not None:
            self._run(self.session.work, self.session.work.change.label())
            return
        error = self.apply(make(name, **self.auto_args(name)))
        if error:
            self.say(error, error=True)

    def _step_pending(self) -> None:
        """``space`` while a settle waits (play paused): one more device request of it."""
        work = self.session.work
        self._fast = False
        if work.run(steps=1):
            self._finished(work, work.change.action.label())
        else:
            self.say(f"one device request ({plural(work.steps, 'driver step')} of this settle so far) · "
                     "space: one more, s: finish, Esc: stop here")
            self.refresh_views()

    def action_act_form(self, name: str) -> None:
        warning = ""
        if ACTIONS[name].drastic:
            warning = "Apply to do it (u undoes it afterwards); Esc leaves everything as it is."
        self.push_screen(ActionForm(ACTIONS[name], self.apply, self.form_values(name), self.auto_args(name),
                                    warning))

    # ----- time travel and lessons ------------------------------------------------------
    def _moved(self, what: str) -> None:
        self.player.hold_until = None
        self.say(what)
        self.refresh_views()

    def action_undo(self) -> None:
        self._moved("undone" if self.session.undo() else "nothing to undo")

    def action_redo(self) -> None:
        self._redo()

    def _redo(self, all_of_it: bool = False) -> None:
        """Redo runs its settle in slices like any other (a redone 4 TiB plug takes seconds):
        the screen stays live and Esc stops it. ``all_of_it``: then the next one, to the end."""
        self.player.hold_until = None
        self._redo_all = all_of_it
        while True:
            work = self.session.start_redo()
            if work is None:
                self._redo_all = False
                self._moved(f"timeline at action {self.session.sandbox.position}" if all_of_it else "nothing to redo")
                return
            if not all_of_it or not work.run(seconds=SLICE):
                self._run(work, f"redo: {work.change.action.label()}")    # a long one: _finished goes on
                return

    def action_scrub(self, delta: int) -> None:
        """One action back (goto) or forward (redo) on the timeline."""
        sb = self.session.sandbox
        if delta > 0:
            self._redo()
            return
        if sb.position:
            self.session.goto(sb.position - 1)
        self._moved(f"timeline at action {sb.position}")

    def action_scrub_to(self, where: str) -> None:
        if where == "start":
            self.session.goto(0)
            self._moved(f"timeline at action {self.session.sandbox.position}")
        else:
            self._redo(all_of_it=True)

    def action_restart_lesson(self) -> None:
        self.session.goto(0)
        self._moved(f"lesson restarted: {self.session.scenario.title} (}} brings the "
                    f"{plural(len(self.session.sandbox.redo_stack), 'action')} back)")

    def action_next_step(self) -> None:
        """The next lesson step; while one runs, finish it first (its settle belongs to it)."""
        s = self.session
        self.player.hold_until = None
        if s.playing_step is not None:
            self._run(s.work, s.work.change.action.label())
            return
        step = s.next_lesson_step()
        work = s.start_lesson_step()
        if work is None or step is None:
            self.say("the lesson has no more steps")
            self.refresh_views()
            return
        if self.player.playing:
            self._fast = False
            self.say(f"lesson step {step.index}: {step.action.label()}")
            self.refresh_views()
        else:
            self._run(work, step.action.label())

    def action_play(self) -> None:
        self.player.playing = not self.player.playing
        self.player.hold_until = None
        if self.player.playing:
            self._fast = False
            self._redo_all = False                  # play drives what is pending, one request per tick
            self._work_timer.pause()
            self._play_timer.resume()
            self.say(f"playing: one device request per tick ({self.player.speed_text()}); after each lesson "
                     "step play waits, n goes on · < > speed · p pauses")
        else:
            self._play_timer.pause()
            self.say("paused" + (": space one device request, s finish the settle, Esc stop it here"
                                 if self.session.work is not None else ""))
        self._show_lesson()
        self._show_keys()

    def action_speed(self, direction: int) -> None:
        interval = self.player.change_speed(direction > 0)
        self._play_timer.stop()
        self._play_timer = self.set_interval(interval, self._tick, pause=not self.player.playing)
        self.say(f"play speed: {self.player.speed_text()}")
        self._show_lesson()

    def action_cancel_work(self) -> None:
        work = self.session.work
        if work is None:
            return
        self._fast = False
        self._redo_all = False
        self._work_timer.pause()
        if self.player.playing:
            self.action_play()
        steps = work.steps
        self.session.cancel_work()
        self.say(f"settle stopped after {plural(steps, 'driver step')}; the timeline keeps what it did")
        self.refresh_views()

    def _tick(self) -> None:
        """One tick of play: one device request, or the next lesson step, or waiting. Play
        waits while a dialog covers the screen (the class would miss what happens)."""
        if isinstance(self.screen, ModalScreen):
            if self.player.hold_until is not None:
                self.player.hold_until += self.player.interval
            return
        s = self.session
        work = s.work
        if work is not None:
            if work.run(steps=1):
                self._finished(work, work.change.action.label())
            else:
                self.refresh_views()
            return
        if self.player.hold_until is not None:
            if time.monotonic() < self.player.hold_until:
                self._show_lesson()
                return
            self.player.hold_until = None
        if s.next_lesson_step() is not None:       # the lesson decides when the driver runs
            self.action_next_step()
        elif s.machine.busy():                      # after it, play settles what the user asked for
            s.start(make("settle"))
            self._fast = False
            self._tick()
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

    def action_follow(self) -> None:
        self.follow = not self.follow
        self._moved("following the block the last change touched" if self.follow else "not following")

    def action_next_device(self) -> None:
        self.device = (self.device + 1) % len(self.session.machine.devices)
        self.selected = 0
        self._moved(f"showing {self.session.machine.devices[self.device].id}")

    # ----- sessions: load, quit, crash, reopen ------------------------------------------
    def save_session(self, reason: str) -> Path | None:
        """Save the session where the next start finds it; None when there is nothing to save
        (or no state directory). Never raises: a failing disk must not turn a quit into a crash."""
        if self.state_dir is None:
            return None
        try:
            return recovery.save(self.session, self.state_dir, reason)
        except OSError as e:
            self.say(f"could not save the session to {self.state_dir}: {e.strerror}", error=True)
            return None

    def action_load(self) -> None:
        saved = recovery.saved_sessions(self.state_dir) if self.state_dir else []
        self.push_screen(LoadScreen(saved), self._loaded)

    def _loaded(self, choice: LoadChoice | None) -> None:
        if choice is None:
            return
        if not recovery.has_work(self.session):
            self._replace(choice)
            return
        n = plural(self.session.sandbox.length, "action")
        where = f"It is saved to {self.state_dir} first" if self.state_dir else "It is NOT saved"
        name = choice.path.name if isinstance(choice, recovery.Reopened) else choice.title
        self.push_screen(ConfirmScreen("replace this session?", f"Load {name}? The current session has {n}. {where}; "
                                       "L lists saved sessions to reopen it.", "Load"),
                         lambda yes: self._replace(choice, save=True) if yes else self.say("nothing loaded"))

    def _replace(self, choice: LoadChoice, save: bool = False) -> None:
        """Start over on a scenario or on a reopened session (the current one saved first)."""
        if isinstance(choice, recovery.Reopened):
            session, warning = choice
        else:
            session, warning = Session(choice), ""
        saved = self.save_session("load") if save else None
        self._stop()
        self.session = session
        self.device = self.selected = 0
        self._marks_key = None
        what = f"reopened {choice.path}" if isinstance(choice, recovery.Reopened) else \
            f"loaded {choice.source}: {choice.title}"
        self._moved(what + (f" · previous session saved to {saved}" if saved else "") +
                    (f" · {warning}" if warning else ""))

    def load_scenario(self, scenario: Scenario) -> None:
        """Start over on ``scenario`` at once (play stops, selection resets); for scripts and tests."""
        self._stop()
        self.session.load(scenario)
        self.device = self.selected = 0
        self._marks_key = None
        self._moved(f"loaded {scenario.source}: {scenario.title}")

    def _stop(self) -> None:
        if self.player.playing:
            self.action_play()
        self._fast = False
        if self._work_timer is not None:
            self._work_timer.pause()

    def action_quit(self) -> None:
        """Quit at once when there is nothing to lose; else ask (the session is saved anyway)."""
        if not recovery.has_work(self.session):
            self.exit()
            return
        n = plural(self.session.sandbox.length, "action")
        where = (f"It is saved to {self.state_dir}, and the next vmemlab tui offers to reopen it."
                 if self.state_dir else "It is NOT saved (no state directory): export it first with e.")
        self.push_screen(ConfirmScreen("quit vmemlab?", f"This session has {n}. {where}", "Quit", "Stay"),
                         lambda yes: self._quit() if yes else self.say("still here"))

    def _quit(self) -> None:
        self._stop()
        self.saved_to = self.save_session("quit")
        self.exit()

    def _handle_exception(self, error: Exception) -> None:
        """A crash must not lose the session: save it first, then let Textual report the error."""
        if self.saved_to is None:
            try:
                self.saved_to = self.save_session("crash")
            except Exception:                  # noqa: BLE001 - the original error matters more
                pass
        super()._handle_exception(error)

    def _offer_saved_session(self) -> None:
        if self.state_dir is None:
            return
        offer = recovery.pending_offer(self.state_dir)
        if offer is None:
            return
        recovery.forget_offer(self.state_dir)
        how = "vmemlab crashed" if offer.reason == "crash" else "you quit"
        text = (f"When {how} ({offer.at}), {offer.title} had {plural(offer.actions, 'action')}. Reopen it? "
                f"Either way it stays in {offer.path}.")
        self.push_screen(ConfirmScreen("reopen the last session?", text, "Reopen", "Start fresh"),
                         lambda yes: self._reopen_offer(offer.path) if yes else None)

    def _reopen_offer(self, path: Path) -> None:
        try:
            self._replace(recovery.reopen(path), save=True)
        except TraceError as e:
            self.say(f"cannot reopen {path}: {e}", error=True)

    # ----- files, screens ---------------------------------------------------------------
    def _export_stem(self) -> str:
        stem = Path(self.session.scenario.source).stem.replace("<", "").replace(">", "") or "scenario"
        return f"vmemlab-{stem}-{self.session.sandbox.position}"

    def action_export_svg(self) -> None:
        path = recovery.unique_path(self.export_dir, self._export_stem(), ".svg")
        self.save_screenshot(path.name, str(path.parent))
        self.say(f"screenshot saved to {path.resolve()}")

    def action_export_trace(self) -> None:
        try:
            path = write_trace(self.session, self.export_dir, self._export_stem())
        except OSError as e:
            self.say(f"cannot write the trace to {self.export_dir}: {e.strerror}", error=True)
            return
        self.say(f"trace saved to {path.resolve()}")
        self.refresh_views()

    def action_compare(self) -> None:
        self.push_screen(CompareScreen(self.session))

    def action_help(self) -> None:
        marks = {i for i in range(MARK_BASE + 1, MARK_BASE + len(view.Mark))}
        states = set(range(MARK_BASE + 1))
        self.push_screen(HelpScreen(help_markdown({
            "KEYS": commands.keys_markdown(),
            "MAP_GLYPHS": glyph_table(map_legend_entries(states)),
            "MARK_GLYPHS": glyph_table(map_legend_entries(marks)),
            "BITMAP_GLYPHS": glyph_table(chunk_legend_entries()),
            "SPEED": self.player.speed_text(),
            "HOLD": f"{self.player.hold_seconds:.0f} s",
            "STATE_DIR": f"`{self.state_dir}`" if self.state_dir else "nowhere (no state directory)",
        })))

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


def run(session: Session, export_dir: Path, state_dir: Path | None = None) -> int:
    """``vmemlab tui``: run the app; say where the session went when it quit or crashed."""
    import sys

    app = VmemLabApp(session, export_dir=export_dir, state_dir=state_dir or recovery.state_dir())
    app.run()
    if app.saved_to is not None:
        how = "crashed" if app.return_code else "quit"
        print(f"vmemlab {how}; the session is saved to {app.saved_to} (vmemlab tui offers to reopen it; "
              f"vmemlab replay {app.saved_to} checks it)", file=sys.stderr)
    return app.return_code or 0
