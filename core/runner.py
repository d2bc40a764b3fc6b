"""Run a scenario through a Sandbox, step by step; the CLI, the views and the tests share it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from . import actions as act
from .actions import ActionError
from .events import Event, Kind
from .sandbox import Sandbox
from .scenario import Scenario, Step


@dataclass
class StepResult:
    """What one scenario step did."""

    step: Step
    events: list[Event] = field(default_factory=list)
    error: str = ""


def apply_step(sandbox: Sandbox, step: Step) -> StepResult:
    """Apply a step's action (and settle if the step says so); refusals become an ERROR event."""
    result = StepResult(step)
    if step.note:
        result.events.append(Event(Kind.NOTE, step.note, sandbox.machine.now))
    try:
        result.events += sandbox.apply(step.action)
        if step.settle and act.ACTIONS[step.action.name].settles:
            result.events += sandbox.apply(act.make("settle"))
    except ActionError as e:
        result.error = str(e)
        result.events.append(sandbox.error_event(str(e)))
    return result


def run(scenario: Scenario, sandbox: Sandbox | None = None) -> Iterator[tuple[Sandbox, StepResult]]:
    """Yield (sandbox, result) after every step."""
    sb = sandbox or Sandbox(scenario.config)
    for step in scenario.steps:
        yield sb, apply_step(sb, step)
