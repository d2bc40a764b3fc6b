"""What a view drives: a Sandbox, the loaded scenario, and how far its steps have played.

The terminal UI and the web page both hold a Session and nothing else of the model; lesson
narration, the next step, undo across lesson steps and long settles in slices are handled
here, once. Which lesson step the timeline is at is read from the timeline itself (each
change remembers the lesson step it was), so rewinding and branching can never leave a stale
lesson position behind.
"""
from __future__ import annotations

from .actions import Action, make
from .events import Event
from .runner import StepResult, begin_step
from .sandbox import Change, Sandbox, Work
from .scenario import Scenario, Step, default


class Session:
    """A sandbox playing a scenario; user actions may be mixed in between lesson steps."""

    def __init__(self, scenario: Scenario | None = None):
        self.load(scenario or default())

    @classmethod
    def resume(cls, scenario: Scenario, sandbox: Sandbox) -> Session:
        """A session over an existing sandbox (a reopened trace), without booting another machine."""
        session = cls.__new__(cls)
        session.scenario, session.sandbox, session.step_error = scenario, sandbox, ""
        return session

    def load(self, scenario: Scenario) -> None:
        """Start over on ``scenario`` (a fresh machine from its config)."""
        self.scenario = scenario
        self.sandbox = Sandbox(scenario.config)
        self.step_error = ""

    # ----- lesson steps ---------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        """How many lesson steps the timeline has played (the last lesson step applied)."""
        for e in reversed(self.sandbox.entries):
            if e.change.lesson_step:
                return e.change.lesson_step
        return 0

    @property
    def marks(self) -> list[int]:
        """Timeline position before each applied lesson step (for exports)."""
        return [i for i, e in enumerate(self.sandbox.entries) if e.change.lesson_step]

    @property
    def own_changes(self) -> int:
        """Changes on the timeline after the last lesson step: the user's own (0 = the timeline is
        on the lesson's track, and playing on continues the tour as written)."""
        entries = self.sandbox.entries
        for k in range(len(entries) - 1, -1, -1):
            if entries[k].change.lesson_step:
                return len(entries) - 1 - k
        return len(entries)

    @property
    def playing_step(self) -> Step | None:
        """The lesson step whose settle is running in slices right now, if any."""
        w = self.sandbox.work
        if w is None or not w.change.lesson_step:
            return None
        return self.scenario.steps[w.change.lesson_step - 1]

    def next_lesson_step(self) -> Step | None:
        c = self.cursor
        return self.scenario.steps[c] if c < len(self.scenario.steps) else None

    def start_lesson_step(self) -> Work | None:
        """Begin the next lesson step; its settle runs as the returned Work (None at the end).
        A refused step still takes its position (a note), and ``step_error`` says why."""
        self.sandbox.stop_work()
        step = self.next_lesson_step()
        if step is None:
            return None
        work, self.step_error = begin_step(self.sandbox, step)
        return work

    def play_lesson_step(self) -> StepResult | None:
        """Apply the next lesson step at once (its settle included)."""
        step = self.next_lesson_step()
        work = self.start_lesson_step()
        if work is None or step is None:
            return None
        events = work.finish()
        if self.step_error:
            return StepResult(step, [self.sandbox.error_event(self.step_error)], self.step_error)
        return StepResult(step, events)

    def current_note(self) -> str:
        step = self.playing_step
        if step is not None:
            return step.note
        c = self.cursor
        return self.scenario.steps[c - 1].note if c else self.scenario.intro.strip()

    # ----- user actions and time travel -----------------------------------------------------
    def start(self, action: Action, settle: bool = False) -> Work:
        """Begin a user action; with ``settle`` the driver then runs in slices (see Work)."""
        self.step_error = ""
        return self.sandbox.begin(Change(action, settle))

    def apply(self, action: Action, settle: bool = False) -> list[Event]:
        """Apply a user action (and its settle) as one timeline position."""
        return self.start(action, settle).finish()

    def do(self, name: str, **args) -> list[Event]:
        """Convenience: build and apply an action by name (no settle)."""
        return self.apply(make(name, **args))

    @property
    def work(self) -> Work | None:
        return self.sandbox.work

    def cancel_work(self) -> bool:
        """Stop a running settle at the next request; the timeline keeps what it did."""
        had = self.sandbox.work is not None
        self.sandbox.stop_work()
        return had

    def undo(self) -> bool:
        return self.sandbox.undo()

    def redo(self) -> bool:
        return self.sandbox.redo()

    def start_redo(self) -> Work | None:
        """Begin redoing the last undone change; its settle runs in slices (None: nothing to redo)."""
        return self.sandbox.begin_redo()

    def goto(self, index: int) -> None:
        self.sandbox.goto(index)

    @property
    def machine(self):
        return self.sandbox.machine
