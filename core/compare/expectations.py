"""``compare = {...}`` in a step's ``expect`` table: the contrasts a comparison lesson asserts.

Keys are a model (``virtio_mem``, ``balloon``, ``dimm``) or a difference of two models
(``balloon_minus_virtio_mem``); each holds metric = wanted value, with the comparison prefixes
of ``core.expect`` (``">= 1G"``, ``"< 3"``; bare = equal)::

    expect = { compare = { balloon = { host_thp_split = ">= 1000" },
                           balloon_minus_virtio_mem = { free_2m_chunks = "<= -1900" },
                           dimm = { outcome = "failed", detail = "MEM_UNPLUG_ERROR" } } }

``vmemlab compare`` grades them; ``grade_scenario`` lets ``vmemlab run --check`` do the same, and
``prediction_meets`` lets ``vmemlab run --quiz`` grade a student's prediction against the first one.
"""
from __future__ import annotations

import re
from typing import Any

from ..expect import OPS, Check, ExpectError, split_op
from ..scenario import Scenario, ScenarioError
from ..units import SizeError, format_size, parse_size
from .compare import MODELS, OUTCOMES, CompareOptions, CompareRow, Comparison, ModelSummary, compare

SIZES = ("requested", "reached", "mem_total", "memmap", "numa_misplaced", "granularity", "smallest", "largest")
COUNTS = ("free_2m_chunks", "host_thp_split", "slots_used")
TEXTS = ("outcome", "detail")
SUMMARY = ("granularity", "smallest", "largest")
METRICS = SIZES + COUNTS + TEXTS
Spec = list[tuple[str, str, str, Any]]      # (subject, metric, op, value)


def _subjects() -> tuple[str, ...]:
    return MODELS + tuple(f"{a}_minus_{b}" for a in MODELS for b in MODELS if a != b)


def _value(metric: str, raw: Any, where: str) -> tuple[str, Any]:
    if metric == "outcome":
        if raw not in OUTCOMES:
            raise ExpectError(f"{where}: {raw!r} is not allowed; allowed: {', '.join(OUTCOMES)}")
        return "==", raw
    if metric == "detail":
        if not isinstance(raw, str) or not raw:
            raise ExpectError(f"{where}: expected a text fragment, e.g. \"MEM_UNPLUG_ERROR\"")
        return "contains", raw
    op, text = split_op(raw)
    try:
        if isinstance(text, bool):
            raise ValueError
        if isinstance(text, int):
            return op, text
        if metric in SIZES:
            negative = isinstance(text, str) and text.startswith("-")
            value = parse_size(text[1:] if negative else text, where)
            return op, -value if negative else value
        return op, int(text)
    except (SizeError, ValueError, TypeError):
        kind = "a size like '1G' or '>= 16G' (may be negative for a difference)" if metric in SIZES \
            else "a whole number or a comparison like '< 100'"
        raise ExpectError(f"{where}: {raw!r} is not {kind}") from None


def parse(raw: Any, key: str = "compare") -> Spec:
    """Check a ``compare`` table; ExpectError names the key and the allowed values."""
    subjects = _subjects()
    if not isinstance(raw, dict) or not raw:
        raise ExpectError(f"{key}: expected a table of models, e.g. {key} = {{ balloon = {{ host_thp_split = "
                          f"\">= 1\" }} }}; models: {', '.join(subjects)}")
    spec: Spec = []
    for subject, fields in raw.items():
        if subject not in subjects:
            raise ExpectError(f"{key}: unknown model {subject!r}; allowed: {', '.join(subjects)}")
        if not isinstance(fields, dict):
            raise ExpectError(f"{key}.{subject}: expected a table of metrics; allowed: {', '.join(METRICS)}")
        for metric, value in fields.items():
            where = f"{key}.{subject}.{metric}"
            allowed = METRICS if "_minus_" not in subject else SIZES + COUNTS
            if metric not in allowed:
                raise ExpectError(f"{where}: unknown metric; allowed: {', '.join(allowed)}")
            spec.append((subject, metric, *_value(metric, value, where)))
    return spec


def _read(row: CompareRow, summary: dict[str, ModelSummary], model: str, metric: str) -> Any:
    if metric in SUMMARY:
        return getattr(summary[model], metric)
    return getattr(row.models[model], metric)


def evaluate(spec: Spec, row: CompareRow, summary: dict[str, ModelSummary]) -> list[Check]:
    """One Check per expectation, against the comparison row of the step."""
    checks = []
    for subject, metric, op, want in spec:
        key = f"compare.{subject}.{metric}"
        if "_minus_" in subject:
            a, b = subject.split("_minus_")
            actual = _read(row, summary, a, metric) - _read(row, summary, b, metric)
        else:
            actual = _read(row, summary, subject, metric)
        if op == "contains":
            checks.append(Check(key, want.lower() in actual.lower(), repr(want), actual or "(nothing)"))
            continue
        show = _format(metric)
        shown = show(want) if op == "==" else f"{op} {show(want)}"
        checks.append(Check(key, OPS[op](actual, want), shown, show(actual)))
    return checks


def _format(metric: str):
    if metric in SIZES:
        return lambda v: ("-" if v < 0 else "") + format_size(abs(v))
    return str


# ----- a whole scenario ---------------------------------------------------------------------
def parse_scenario(scenario: Scenario) -> dict[int, Spec]:
    """Every step's ``compare`` table, parsed; ScenarioError names the file, the step and the key."""
    specs = {}
    for step in scenario.steps:
        if "compare" in step.expect:
            try:
                specs[step.index] = parse(step.expect["compare"])
            except ExpectError as e:
                raise ScenarioError(scenario.source, f"step {step.index} ({step.action.name})", str(e)) from None
    return specs


def grade(comparison: Comparison, specs: dict[int, Spec]) -> dict[int, list[Check]]:
    """The checks of every step that has compare expectations, by step index."""
    return {row.step: evaluate(specs[row.step], row, comparison.summary) for row in comparison.rows
            if row.step in specs}


def grade_scenario(scenario: Scenario, options: CompareOptions | None = None) -> dict[int, list[Check]]:
    """Run the comparison once and grade it: the hook for ``vmemlab run --check``."""
    specs = parse_scenario(scenario)
    return grade(compare(scenario, options), specs) if specs else {}


# ----- a student's prediction (vmemlab run --quiz) ------------------------------------------
def prediction_meets(raw: Any, prediction: str) -> tuple[str, bool]:
    """(key, right?) for the first expectation of a ``compare`` table: the prediction is right
    when the model's value in its place would pass, e.g. "3" for ``host_thp_split = "<= 5"``,
    "1G" or "1 GiB" for a size, "failed" for an outcome. Words around the value are ignored."""
    subject, metric, op, want = parse(raw)[0]
    key = f"compare.{subject}.{metric}"
    text = prediction.strip()
    if op == "contains" or metric == "outcome":
        words = {w.lower() for w in re.findall(r"[A-Za-z_]+", text)}
        return key, (want.lower() in words if metric == "outcome" else bool(text) and want.lower() in text.lower())
    if metric in SIZES:
        m = re.search(r"(-?)(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?", text, re.IGNORECASE)
        if not m:
            return key, False
        try:
            value = parse_size(m.group(2) + m.group(3).upper(), key)
        except SizeError:
            return key, False
        value = -value if m.group(1) else value
    else:
        m = re.search(r"-?\d+", text)
        if m and len(m.group()) > 30:        # a 4300-digit answer is wrong, not a crash of int()
            return key, False
        if m:
            value = int(m.group())
        elif {w.lower() for w in re.findall(r"[A-Za-z]+", text)} & {"none", "no", "zero", "nothing"}:
            value = 0
        else:
            return key, False
    return key, OPS[op](value, want)
