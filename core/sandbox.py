"""The facade every front end uses: a machine, the action log, the event log, time travel.

Any state equals ``replay(config, actions[:k])`` because the machine owns its seeded RNG.
Snapshots (deep copies) are taken whenever the work done since the last one is about what a
snapshot costs, within a memory budget; going back restores the nearest snapshot and replays the
few actions after it, so undo, redo and scrubbing stay cheap even for a 4 TiB region.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from . import actions as act
from .actions import Action, ActionError
from .config import MachineConfig
from .events import Event, Kind
from .machine import Machine, Metrics

SNAPSHOT_BUDGET = 256 << 20
MIN_SNAPSHOT_SECONDS = 0.002


@dataclass
class Entry:
    """One applied action: where its events start in the log and the metrics after it."""

    action: Action
    first_event: int
    n_events: int
    metrics: Metrics


class Sandbox:
    """A machine plus its history. Views read ``machine``; they change it only via ``apply``."""

    def __init__(self, config: MachineConfig, snapshot_budget: int = SNAPSHOT_BUDGET):
        self.config = config
        self.machine = Machine(config)
        self.events: list[Event] = self.machine.take_events()
        self.boot_events = len(self.events)
        self.entries: list[Entry] = []
        self.redo_stack: list[Action] = []
        self.snapshot_budget = snapshot_budget
        self._snapshots: dict[int, Machine] = {}
        self._remember(0)
        self.initial_metrics = self.machine.metrics()

    # ----- applying -------------------------------------------------------------------------
    def apply(self, action: Action, keep_redo: bool = False) -> list[Event]:
        """Apply one action. Actions check everything before they change anything, so on
        ActionError the machine is exactly as before."""
        started = time.perf_counter()
        try:
            act.apply(self.machine, action)
        except ActionError:
            self.machine.take_events()
            raise
        new = self.machine.take_events()
        self.entries.append(Entry(action, len(self.events), len(new), self.machine.metrics()))
        self.events.extend(new)
        if not keep_redo:
            self.redo_stack.clear()
        self._work += time.perf_counter() - started
        if self._work >= self._snapshot_seconds:
            self._remember(len(self.entries))
        return new

    def do(self, name: str, **args) -> list[Event]:
        """Convenience: build and apply an action by name."""
        return self.apply(act.make(name, **args))

    # ----- time travel ----------------------------------------------------------------------
    def _remember(self, index: int) -> None:
        """Snapshot the state after ``index`` actions. Snapshots are taken once replaying the
        actions since the last one would cost about as much as taking one, so going back never
        replays more than about one snapshot's worth of work."""
        started = time.perf_counter()
        snap = self.machine.snapshot()
        self._snapshot_seconds = max(time.perf_counter() - started, MIN_SNAPSHOT_SECONDS)
        self._work = 0.0
        self._snapshots[index] = snap
        per = max(1, snap.nbytes())
        while len(self._snapshots) > 2 and len(self._snapshots) * per > self.snapshot_budget:
            keys = sorted(k for k in self._snapshots if k not in (0, index))
            del self._snapshots[keys[len(keys) // 2]]

    def goto(self, index: int) -> None:
        """Make the state the one after ``index`` actions (0 = the start); later actions become redo."""
        if not 0 <= index <= len(self.entries):
            raise ActionError(f"goto: step {index} does not exist; allowed: 0 to {len(self.entries)}")
        undone = [e.action for e in self.entries[index:]]
        base = max(k for k in self._snapshots if k <= index)
        self.machine = self._snapshots[base].snapshot()
        kept = self.entries[:base]
        self.events = self.events[:kept[-1].first_event + kept[-1].n_events] if kept else \
            self.events[:self.boot_events]
        replay = [e.action for e in self.entries[base:index]]
        self.entries = kept
        for a in replay:
            self.apply(a, keep_redo=True)
        self.redo_stack = self.redo_stack + list(reversed(undone))

    def undo(self) -> bool:
        if not self.entries:
            return False
        self.goto(len(self.entries) - 1)
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.apply(self.redo_stack.pop(), keep_redo=True)
        return True

    # ----- reading --------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return len(self.entries)

    def last_events(self) -> list[Event]:
        if not self.entries:
            return self.events[:self.boot_events]
        e = self.entries[-1]
        return self.events[e.first_event:e.first_event + e.n_events]

    def metrics_history(self) -> list[Metrics]:
        return [self.initial_metrics] + [e.metrics for e in self.entries]

    def actions(self) -> list[Action]:
        return [e.action for e in self.entries]

    def error_event(self, message: str) -> Event:
        """An event for a refused action, for views that show errors in the log."""
        return Event(Kind.ERROR, message, self.machine.now)
