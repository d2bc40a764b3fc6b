"""What a view drives: a Sandbox, the loaded scenario, and how far its steps have played.

The terminal UI and the web page both hold a Session and nothing else of the model; lesson
narration, the next step and undo across lesson steps are handled here, once.
"""
from __future__ import annotations

from .actions import Action
from .events import Event
from .runner import StepResult, apply_step
from .sandbox import Sandbox
from .scenario import Scenario, Step, default


class Session:
    """A sandbox playing a scenario; user actions may be mixed in between lesson steps."""

    def __init__(self, scenario: Scenario | None = None):
        self.load(scenario or default())

    def load(self, scenario: Scenario) -> None:
        """Start over on ``scenario`` (a fresh machine from its config)."""
        self.scenario = scenario
        self.sandbox = Sandbox(scenario.config)
        self.marks: list[int] = []          # sandbox position before lesson step k was applied
        self.results: list[StepResult] = []

    # ----- lesson steps ---------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        """How many lesson steps have been applied (given undo/redo)."""
        pos = self.sandbox.position
        return sum(1 for m in self.marks if m < pos)

    def next_lesson_step(self) -> Step | None:
        c = self.cursor
        return self.scenario.steps[c] if c < len(self.scenario.steps) else None

    def play_lesson_step(self) -> StepResult | None:
        """Apply the next lesson step (and settle if it says so)."""
        step = self.next_lesson_step()
        if step is None:
            return None
        c = self.cursor
        del self.marks[c:]
        del self.results[c:]
        self.marks.append(self.sandbox.position)
        result = apply_step(self.sandbox, step)
        self.results.append(result)
        if result.error and self.sandbox.position == self.marks[-1]:
            self.sandbox.apply(self._note_action(step), keep_redo=False)
        return result

    @staticmethod
    def _note_action(step: Step) -> Action:
        from .actions import make
        return make("note", text=f"step {step.index} was refused: nothing changed")

    def current_note(self) -> str:
        c = self.cursor
        return self.scenario.steps[c - 1].note if c else self.scenario.intro.strip()

    # ----- user actions and time travel -----------------------------------------------------
    def apply(self, action: Action) -> list[Event]:
        return self.sandbox.apply(action)

    def do(self, name: str, **args) -> list[Event]:
        return self.sandbox.do(name, **args)

    def undo(self) -> bool:
        return self.sandbox.undo()

    def redo(self) -> bool:
        return self.sandbox.redo()

    def goto(self, index: int) -> None:
        self.sandbox.goto(index)

    @property
    def machine(self):
        return self.sandbox.machine
