"""The facade every front end uses: a machine, its timeline of changes, the event log, time travel.

The timeline is a list of ``Change``s: an action, and whether the driver then ran until idle
(its settle belongs to the action: one gesture, one position, one undo). Any state equals a
replay of the timeline on a fresh machine, because the machine owns its seeded RNG.

Snapshots make going back cheap: going back restores the nearest snapshot at or before the
target and replays the few changes after it. They are compact (core/frozen.py): per-chunk arrays
in pieces shared with the previous snapshot where unchanged, zero pieces not stored. Two rules
keep them honest:
- a snapshot belongs to one branch of history: applying a new change after going back drops
  every snapshot taken after that point (they describe a future that no longer exists);
- they live within a memory budget (the bytes they hold together); a snapshot too large for it
  is not kept and going back rebuilds the machine from its config (boot is deterministic).
Whether a snapshot is taken depends on measured cost only for speed, never for the result:
the tests run the same histories with snapshots at every change and with none.

Long settles run in slices (``Work``), so a view stays live, shows progress and can cancel;
a cancelled settle is recorded as "settled for N driver steps", which replays exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from . import actions as act
from .actions import Action, ActionError
from .config import MachineConfig
from .events import Event, EventLog, EventRange, Kind
from .frozen import FrozenMachine, stored_bytes
from .machine import Machine, Metrics

SNAPSHOT_BUDGET = 256 << 20
MIN_SNAPSHOT_SECONDS = 0.002
LOG_EVERY = 128           # driver steps between moves of the machine's new events into the log
SnapshotPolicy = Literal["cost", "every", "never"]


@dataclass(frozen=True)
class Change:
    """One position of the timeline: an action, then (if ``settle``) the driver runs until it is
    idle, waiting, blocked or broken, or for at most ``max_steps`` driver steps when the user cut
    the settle short. ``lesson_step`` is k when this change is step k of the scenario."""

    action: Action
    settle: bool = False
    max_steps: int | None = None  # None = until the drivers are quiet
    lesson_step: int = 0

    def label(self) -> str:
        """Short text for timelines: the action, and a settle cut short if it was."""
        if self.max_steps is not None:
            return f"{self.action.label()} (settle stopped after {self.max_steps} driver steps)"
        return self.action.label()

    def to_dict(self) -> dict:
        out = self.action.to_dict()
        if self.settle:
            out["settle"] = True
        if self.max_steps is not None:
            out["settle_steps"] = self.max_steps
        if self.lesson_step:
            out["lesson_step"] = self.lesson_step
        return out


@dataclass
class Entry:
    """One applied change: where its events start in the log and the metrics after it."""

    change: Change
    first_event: int
    n_events: int
    metrics: Metrics

    @property
    def action(self) -> Action:
        return self.change.action


class Work:
    """A change being applied: the action is done, its settle runs in slices.

    Views call ``run(seconds)`` from their event loop until it returns True, repainting in
    between; ``cancel`` stops at the next driver request and records what was done. Until the
    change is committed it is not on the timeline (``Sandbox.position`` excludes it), but its
    events already are in ``Sandbox.events`` so a view can show them as they come.
    """

    def __init__(self, sandbox: Sandbox, change: Change, first_event: int, started: float):
        self.sandbox = sandbox
        self.change = change
        self.first_event = first_event
        self.settles = change.settle or act.ACTIONS[change.action.name].runs_driver
        self.steps = 0
        self.done = False
        self.redoing = False      # a change brought back from the redo list
        self._cost = time.perf_counter() - started

    @property
    def remaining(self) -> int | None:
        """Driver steps still allowed (None = until quiet)."""
        return None if self.change.max_steps is None else self.change.max_steps - self.steps

    def run(self, seconds: float | None = None, steps: int | None = None) -> bool:
        """Let the drivers work for about ``seconds`` (or ``steps`` requests); True when finished."""
        if self.done:
            return True
        m = self.sandbox.machine
        log = self.sandbox.events
        clock = time.perf_counter
        started = clock()
        deadline = None if seconds is None else started + seconds
        most = self.change.max_steps
        step = m.step
        n = 0
        finished = not self.settles
        while not finished:
            if (steps is not None and n >= steps) or (deadline is not None and n and clock() >= deadline):
                break
            if self.steps == most or not step():
                finished = True
                break
            n += 1
            self.steps += 1
            if not n % LOG_EVERY:
                log.extend(m.take_events())     # into the log: no Event objects pile up
        log.extend(m.take_events())
        self._cost += time.perf_counter() - started
        if finished:
            self._commit(self.change)
        return finished

    def finish(self) -> list[Event]:
        """Run to the end; the events of the whole change."""
        self.run()
        return self.events()

    def cancel(self) -> None:
        """Stop here: the timeline records the settle as cut short after the steps done so far."""
        if self.done:
            return
        change = self.change
        if self.settles:
            change = Change(change.action, change.settle, self.steps, change.lesson_step)
            if self.redoing and change != self.change:
                self.sandbox._new_branch()      # the redo list and snapshots assumed the whole settle
        self._commit(change)

    def events(self) -> list[Event] | EventRange:
        return self.sandbox.events[self.first_event:]

    def _commit(self, change: Change) -> None:
        self.done = True
        self.change = change
        self.sandbox._commit(self, change)


class Sandbox:
    """A machine plus its history. Views read ``machine``; they change it only through here."""

    def __init__(self, config: MachineConfig, snapshot_budget: int = SNAPSHOT_BUDGET,
                 snapshot_policy: SnapshotPolicy = "cost"):
        self.config = config
        self.machine = Machine(config)
        self.events = EventLog(self.machine.take_events())
        self.boot_events = len(self.events)
        self.entries: list[Entry] = []
        self.redo_stack: list[Change] = []
        self.snapshot_budget = snapshot_budget
        self.snapshot_policy = snapshot_policy
        self.work: Work | None = None
        self._snapshots: dict[int, FrozenMachine] = {}
        self._work_seconds = 0.0
        self._snapshot_seconds = MIN_SNAPSHOT_SECONDS
        self._remember(0)
        self.initial_metrics = self.machine.metrics()

    # ----- applying -------------------------------------------------------------------------
    def begin(self, change: Change, keep_redo: bool = False) -> Work:
        """Apply ``change.action`` now and return the Work that runs its settle.

        Actions check everything before they change anything, so on ActionError the machine,
        the timeline and the redo list are exactly as before. A pending Work is finished by
        cancelling it first (a new gesture interrupts a long settle)."""
        self.stop_work()
        started = time.perf_counter()
        try:
            if not act.ACTIONS[change.action.name].runs_driver:
                act.apply(self.machine, change.action)
        except ActionError:
            self.machine.take_events()
            raise
        if not keep_redo:
            self._new_branch()
        first = len(self.events)
        self.events.extend(self.machine.take_events())
        work = Work(self, change, first, started)
        self.work = work
        return work

    def apply_change(self, change: Change, keep_redo: bool = False) -> list[Event]:
        return self.begin(change, keep_redo).finish()

    def apply(self, action: Action, settle: bool = False, lesson_step: int = 0) -> list[Event]:
        """Apply one action (then settle if asked) as one timeline position; returns its events."""
        return self.apply_change(Change(action, settle, None, lesson_step))

    def do(self, name: str, **args) -> list[Event]:
        """Convenience: build and apply an action by name."""
        return self.apply(act.make(name, **args))

    def stop_work(self) -> None:
        """Cancel a pending Work (recording what it did), so the timeline is complete."""
        if self.work is not None and not self.work.done:
            self.work.cancel()
        self.work = None

    def _commit(self, work: Work, change: Change) -> None:
        self.entries.append(Entry(change, work.first_event, len(self.events) - work.first_event,
                                  self.machine.metrics()))
        self.work = None
        self._work_seconds += work._cost
        if self._should_snapshot():
            self._remember(len(self.entries))

    def _new_branch(self) -> None:
        """History forks here: redo and every snapshot of the abandoned future are dropped."""
        self.redo_stack.clear()
        pos = len(self.entries)
        for k in [k for k in self._snapshots if k > pos]:
            del self._snapshots[k]

    # ----- snapshots ------------------------------------------------------------------------
    def _should_snapshot(self) -> bool:
        if self.snapshot_policy == "never":
            return False
        if self.snapshot_policy == "every":
            return True
        return self._work_seconds >= self._snapshot_seconds

    def _remember(self, index: int) -> None:
        """Snapshot the state after ``index`` changes, if the budget allows. Under the cost
        policy snapshots are taken once replaying the changes since the last one would cost
        about as much as taking one, so going back never replays more than about that.
        Snapshots are compact (core/frozen.py: pieces shared with the previous snapshot, zero
        pieces not stored); the budget counts the bytes they hold together."""
        self._work_seconds = 0.0
        if self.snapshot_policy == "never" and index:
            return
        started = time.perf_counter()
        before = [k for k in self._snapshots if k < index]
        snap = self.machine.freeze(self._snapshots[max(before)] if before else None)
        self._snapshot_seconds = max(time.perf_counter() - started, MIN_SNAPSHOT_SECONDS)
        if stored_bytes([snap]) > self.snapshot_budget // 2:
            return                  # too big to keep: going back rebuilds from the config
        self._snapshots[index] = snap
        while len(self._snapshots) > 1 and self.snapshot_bytes() > self.snapshot_budget:
            keys = sorted(k for k in self._snapshots if k not in (0, index))   # each holds <= half
            del self._snapshots[keys[len(keys) // 2]]

    def snapshot_bytes(self) -> int:
        """What the kept snapshots hold together (shared pieces once)."""
        return stored_bytes(self._snapshots.values())

    def snapshot_positions(self) -> list[int]:
        """Where snapshots are kept now (for tests and the docs' memory figures)."""
        return sorted(self._snapshots)

    # ----- time travel ----------------------------------------------------------------------
    def goto(self, index: int) -> None:
        """Make the state the one after ``index`` changes (0 = boot); later ones become redo."""
        self.stop_work()
        if not 0 <= index <= len(self.entries):
            raise ActionError(f"goto: position {index} does not exist; allowed: 0 to {len(self.entries)}")
        undone = [e.change for e in self.entries[index:]]
        base = max((k for k in self._snapshots if k <= index), default=None)
        if base is None:
            base = 0
            self.machine = Machine(self.config)
            self.machine.take_events()
        else:
            self.machine = self._snapshots[base].thaw()
        kept = self.entries[:base]
        self.events.truncate(kept[-1].first_event + kept[-1].n_events if kept else self.boot_events)
        replay = [e.change for e in self.entries[base:index]]
        self.entries = kept
        for change in replay:
            self.apply_change(change, keep_redo=True)
        self.redo_stack = self.redo_stack + list(reversed(undone))

    def undo(self) -> bool:
        self.stop_work()
        if not self.entries:
            return False
        self.goto(len(self.entries) - 1)
        return True

    def begin_redo(self) -> Work | None:
        """Bring the last undone change back; its settle runs as the returned Work (None: nothing
        to redo). Cancelling it cuts the settle short, which makes a new branch: the rest of the
        redo list (and the snapshots of that future) assumed the whole settle and are dropped."""
        self.stop_work()
        if not self.redo_stack:
            return None
        work = self.begin(self.redo_stack.pop(), keep_redo=True)
        work.redoing = True
        return work

    def redo(self) -> bool:
        work = self.begin_redo()
        if work is None:
            return False
        work.finish()
        return True

    # ----- reading --------------------------------------------------------------------------
    @property
    def events(self) -> EventLog:
        """Every event so far (boot, then each change's): an EventLog, which reads like a list."""
        return self._events

    @events.setter
    def events(self, events: EventLog | list[Event]) -> None:
        self._events = events if isinstance(events, EventLog) else EventLog(events)

    @property
    def position(self) -> int:
        return len(self.entries)

    @property
    def length(self) -> int:
        """Applied changes plus those redo would bring back: the timeline's full length."""
        return len(self.entries) + len(self.redo_stack)

    def last_events(self) -> list[Event] | EventRange:
        if not self.entries:
            return self.events[:self.boot_events]
        e = self.entries[-1]
        return self.events[e.first_event:e.first_event + e.n_events]

    def metrics_history(self) -> list[Metrics]:
        return [self.initial_metrics] + [e.metrics for e in self.entries]

    def changes(self) -> list[Change]:
        return [e.change for e in self.entries]

    def actions(self) -> list[Action]:
        return [e.action for e in self.entries]

    def error_event(self, message: str) -> Event:
        """An event for a refused action, for views that show errors in the log."""
        return Event(Kind.ERROR, message, self.machine.now)
