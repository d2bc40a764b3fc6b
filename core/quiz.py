"""Grading a student's prediction for a lesson step with ``ask``: one rule for every view.

``vmemlab run --quiz`` reads the prediction from stdin, the browser from a text box or a tapped
memory block; both grade it here, against the step's ``expect`` table: the first key a
free-text answer can be compared with (``gradable_key``) decides, read from the model after the
step (``expect.actual_value``). A step whose table has no such key is not graded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import expect
from .events import Kind
from .machine import Metrics
from .sandbox import Sandbox
from .scenario import Scenario, Step

MAX_PREDICTION = 4000      # characters of a prediction that are read (a longer one is cut: no huge ints)


@dataclass(frozen=True)
class Grade:
    """A graded prediction: ``ok`` is None when the step has nothing to grade against."""

    key: str | None
    ok: bool | None
    said: str
    actual: str

    def text(self) -> str:
        said = self.said or "(nothing)"
        if self.ok is None:
            return f"you said: {said}; not graded (this step has no expectation to compare)"
        return f"{'RIGHT' if self.ok else 'WRONG'}: you said {said}; {self.key} is {self.actual}"


def gradable_key(table: dict) -> str | None:
    """The first expect key a free-text prediction can be compared with."""
    for key in table:
        if expect.KEYS[key].kind in ("value", "size", "change", "ids", "counts") or key in ("block", "compare"):
            return key
    return None


def asks_for_a_block(step: Step) -> bool:
    """Is the answer a memory block (the student may tap it on the map)?"""
    return gradable_key(step.expect) == "block"


def _as_list(raw) -> list:
    return raw if isinstance(raw, list) else [raw]


def block_prediction(prediction: str, raw, checks: list[expect.Check]) -> bool:
    """"Which memory block ...?": right if the student names the step's block(s) and they check out."""
    ids = sorted(b["id"] for b in _as_list(raw))
    said = sorted(expect.numbers_in(prediction))
    return said == ids and all(c.ok for c in checks if c.key.startswith("block "))


def shown_value(key: str, actual: Any, checks: list[expect.Check]) -> str:
    """The model's value as a check prints it; for counts only what occurred ("NACK 1")."""
    if isinstance(actual, dict):
        return ", ".join(f"{k} {v}" for k, v in actual.items() if v) or "none"
    return next((c.actual for c in checks if c.key == key), str(actual))


def clean(prediction: str) -> str:
    """What is graded of a typed prediction: one line, at most MAX_PREDICTION characters."""
    return " ".join(prediction.split())[:MAX_PREDICTION]


def grade(step: Step, prediction: str, state: expect.StepState, checks: list[expect.Check]) -> Grade:
    """Grade ``prediction`` for ``step``, given the state right after it and its expect checks."""
    said = clean(prediction)
    key = gradable_key(step.expect)
    if key is None:
        return Grade(None, None, said, "")
    if key == "compare":                    # graded against the expectation: the prediction is right
        from .compare.expectations import prediction_meets     # when it would pass in its place
        key, ok = prediction_meets(step.expect["compare"], said)
        return Grade(key, ok, said, next((c.actual for c in checks if c.key == key), ""))
    actual = expect.actual_value(key, state)
    if key == "block":
        ok = block_prediction(said, step.expect["block"], checks)
        shown = ", ".join(f"memory{b['id']}" for b in _as_list(step.expect["block"]))
    else:
        table = step.expect[key]
        first = str(next(iter(table), "")).upper() if isinstance(table, dict) else ""
        ok = expect.words_match(said, key, actual, first)
        shown = shown_value(key, actual, checks)
    return Grade(key, ok, said, shown)


def step_state(sandbox: Sandbox, position: int, error: str = "") -> expect.StepState:
    """What the expectations of the change at timeline ``position`` (1-based) look at, while it is
    the last change on the timeline: the machine now, its events (no notes), the numbers before."""
    entry = sandbox.entries[position - 1]
    events = sandbox.events[entry.first_event:entry.first_event + entry.n_events]
    before: Metrics = sandbox.metrics_history()[position - 1]
    return expect.StepState(sandbox.machine, [e for e in events if e.kind != Kind.NOTE], error, before)


def grade_last_step(step: Step, prediction: str, sandbox: Sandbox, error: str = "",
                    scenario: Scenario | None = None) -> Grade:
    """Grade a prediction for ``step``, the last change on ``sandbox``'s timeline. A ``compare``
    question shows the comparison's value too when ``scenario`` is given (a side-by-side run of
    the scenario, as ``vmemlab run --quiz`` does)."""
    state = step_state(sandbox, sandbox.position, error)
    checks = expect.evaluate(step.expect, state)
    if scenario is not None and gradable_key(step.expect) == "compare":
        from .compare.expectations import grade_scenario
        checks += grade_scenario(scenario).get(step.index, [])
    return grade(step, prediction, state, checks)
