"""Shareable URLs: ``?scenario=NAME&step=K`` opens a shipped scenario with K lesson steps played.

Parameters are validated before anything is applied; a bad one gives a message naming the
parameter and the allowed values, and the page opens on the default scenario instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from vmemlab.core.units import shown

PARAMETERS = ("scenario", "step")
_STEP = re.compile(r"\d+", re.ASCII)     # "²" and "١" pass str.isdigit(); they are not step numbers


class UrlError(ValueError):
    """A query parameter that cannot be used; the message names it and the allowed values."""


@dataclass(frozen=True)
class Query:
    scenario: str | None = None
    step: int = 0


def _one(raw: dict, name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise UrlError(f"URL parameter {name}: given {len(value)} times; give it once")
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is not None and not isinstance(value, str):
        raise UrlError(f"URL parameter {name}: {shown(value)} is not text")
    return value


def parse_query(raw: dict, scenarios: list[str]) -> Query:
    """Check the names and the scenario; ``step`` is checked against the scenario by ``check_step``."""
    unknown = sorted(map(str, set(raw) - set(PARAMETERS)))
    if unknown:
        raise UrlError(f"URL parameter {shown(unknown[0])} is not known; allowed: {', '.join(PARAMETERS)}")
    scenario = _one(raw, "scenario")
    if scenario is not None and scenario not in scenarios:
        raise UrlError(f"URL parameter scenario: {shown(scenario)} is not known; allowed: {', '.join(scenarios)}")
    step = _one(raw, "step")
    if step is None:
        return Query(scenario, 0)
    if not _STEP.fullmatch(step):
        raise UrlError(f"URL parameter step: {shown(step)} is not a whole number; allowed: 0 or more lesson steps")
    if len(step) > 9:
        raise UrlError(f"URL parameter step: {shown(step)} is too large; allowed: 0 to the scenario's number of steps")
    return Query(scenario, int(step))


def check_step(step: int, n_steps: int) -> None:
    if step > n_steps:
        raise UrlError(f"URL parameter step: {step} is too large; allowed: 0 to {n_steps} "
                       f"(the scenario has {n_steps} steps)")


def share_query(scenario: str, step: int) -> str:
    """The query string that reproduces a scenario after ``step`` lesson steps."""
    return "?" + urlencode({"scenario": scenario, "step": step})
