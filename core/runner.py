"""Run a scenario through a Sandbox, step by step; the CLI, the views and the tests share it.

A lesson step is one timeline position: its action and the settle after it. A step the model
refuses still takes a position (a note saying so), so lesson step k is always timeline
position k when nothing else was done in between.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from . import actions as act
from .actions import ActionError
from .events import Event, Kind
from .sandbox import Change, Sandbox, Work
from .scenario import Scenario, Step


@dataclass
class StepResult:
    """What one scenario step did."""

    step: Step
    events: list[Event] = field(default_factory=list)
    error: str = ""


def step_change(step: Step) -> Change:
    """The timeline position a lesson step becomes."""
    return Change(step.action, step.settle and act.ACTIONS[step.action.name].settles, None, step.index)


def refused_change(step: Step, error: str) -> Change:
    """What a refused lesson step leaves on the timeline: a note, so the numbering holds."""
    return Change(act.make("note", text=f"step {step.index} was refused, nothing changed: {error}"),
                  False, None, step.index)


def begin_step(sandbox: Sandbox, step: Step) -> tuple[Work, str]:
    """Start a lesson step; returns its Work and the refusal text ("" if accepted)."""
    try:
        return sandbox.begin(step_change(step)), ""
    except ActionError as e:
        return sandbox.begin(refused_change(step, str(e))), str(e)


def apply_step(sandbox: Sandbox, step: Step) -> StepResult:
    """Apply a step's action (and settle if the step says so); refusals become an ERROR event."""
    result = StepResult(step)
    if step.note:
        result.events.append(Event(Kind.NOTE, step.note, sandbox.machine.now))
    work, error = begin_step(sandbox, step)
    events = work.finish()
    if error:
        result.error = error
        result.events.append(sandbox.error_event(error))
    else:
        result.events += events
    return result


def run(scenario: Scenario, sandbox: Sandbox | None = None) -> Iterator[tuple[Sandbox, StepResult]]:
    """Yield (sandbox, result) after every step."""
    sb = sandbox or Sandbox(scenario.config)
    for step in scenario.steps:
        yield sb, apply_step(sb, step)
