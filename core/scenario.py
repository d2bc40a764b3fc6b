"""Scenario files (TOML): a machine, its devices and ordered steps, with precise errors.

A malformed file never produces a traceback: ScenarioError names the file, the step, the
field and the allowed values.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from . import actions as act
from .actions import Action, ActionError
from .config import ConfigError, MachineConfig
from .config_io import FieldError, read_config
from .units import shown

STEP_META = {"note", "settle", "expect", "ask", "answer", "title"}
MAX_FILE_BYTES = 16 << 20        # a lesson is a few KiB; this refuses a wrong file before reading it all


class ScenarioError(ValueError):
    """A scenario that cannot be loaded, with the place of the problem."""

    def __init__(self, source: str, where: str, message: str):
        self.source, self.where, self.message = source, where, message
        super().__init__(f"{source}: {where}: {message}" if where else f"{source}: {message}")


@dataclass
class Step:
    """One step of a scenario: an action plus narration, settle flag and expectations."""

    index: int
    action: Action
    note: str = ""
    settle: bool = True
    expect: dict[str, Any] = field(default_factory=dict)
    ask: str = ""
    answer: str = ""
    title: str = ""


@dataclass
class Scenario:
    title: str
    intro: str
    config: MachineConfig
    steps: list[Step]
    source: str = "<scenario>"


def _toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))   # a UTF-8 byte order mark is not content
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "", f"not valid TOML: {e}") from None
    except RecursionError:
        raise ScenarioError(source, "", "not valid TOML here: arrays or tables are nested too deeply") from None
    except ValueError as e:          # e.g. an integer of more than 4300 digits
        raise ScenarioError(source, "", f"not valid TOML: {e}") from None


def parse(text: str, source: str = "<scenario>") -> Scenario:
    """Parse TOML text into a Scenario, validated before anything runs: the config (types,
    ranges, where the device regions go), every step's action and fields, every expect table."""
    data = _toml(text, source)
    top = {"title", "intro", "machine", "device", "step"}
    for k in data:
        if k not in top:
            raise ScenarioError(source, "", f"unknown top-level key {shown(k)}; allowed: {', '.join(sorted(top))}")
    title = data.get("title", Path(source).stem)
    intro = data.get("intro", "")
    if not isinstance(title, str) or not isinstance(intro, str):
        raise ScenarioError(source, "", "title and intro must be strings")
    raw_devices = data.get("device", [{}])
    if not isinstance(raw_devices, list) or not raw_devices:
        raise ScenarioError(source, "[[device]]", "write one [[device]] table per virtio-mem device")
    try:
        config = read_config(data.get("machine", {}), raw_devices, "[machine]", lambda i: f"device {i + 1}")
    except FieldError as e:
        raise ScenarioError(source, e.where, e.message) from None
    except ConfigError as e:
        raise ScenarioError(source, "", str(e)) from None
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list):
        raise ScenarioError(source, "[[step]]", "steps must be an array of tables ([[step]])")
    steps = [_step(source, i, raw) for i, raw in enumerate(raw_steps, start=1)]
    scenario = Scenario(title, intro, config, steps, source)
    from .expect import validate_scenario     # expect reads scenarios: import here, not at the top
    validate_scenario(scenario)
    return scenario


def _step(source: str, i: int, raw: Any) -> Step:
    where = f"step {i}"
    if not isinstance(raw, dict):
        raise ScenarioError(source, where, "expected a table")
    raw = dict(raw)
    meta = {k: raw.pop(k) for k in list(raw) if k in STEP_META}
    name = raw.pop("action", None)
    if name is None:
        raise ScenarioError(source, where, f"missing 'action'; allowed: {', '.join(act.ACTIONS)}")
    if not isinstance(name, str):
        raise ScenarioError(source, where, f"action: expected a string; allowed: {', '.join(act.ACTIONS)}")
    where = f"step {i} ({shown(name)[1:-1]})"
    try:
        action = act.make(name, **raw)
    except ActionError as e:
        raise ScenarioError(source, where, str(e)) from None
    for key, typ in (("note", str), ("ask", str), ("answer", str), ("title", str), ("settle", bool)):
        if key in meta and not isinstance(meta[key], typ):
            raise ScenarioError(source, where, f"{key}: expected {'true or false' if typ is bool else 'a string'}")
    expect = meta.get("expect", {})
    if not isinstance(expect, dict):
        raise ScenarioError(source, where, "expect: expected a table, e.g. expect = { plugged_size = \"1G\" }")
    settle = meta.get("settle", act.ACTIONS[name].settles)
    return Step(i, action, meta.get("note", ""), settle, expect, meta.get("ask", ""),
                meta.get("answer", ""), meta.get("title", ""))


def decode(data: bytes, source: str) -> str:
    """UTF-8 text (TOML files are UTF-8); ScenarioError names the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ScenarioError(source, "", f"is not UTF-8: byte {data[e.start]:#04x} at line {line}, column {col}; "
                                        "save the file as UTF-8") from None


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError(str(path), "", f"cannot read the file: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(str(path), "", "is larger than 16 MiB; a scenario is a small text file")
    return parse(decode(data, str(path)), str(path))


def builtin(name: str) -> Scenario:
    """A scenario shipped in vmemlab.examples, by file name."""
    text = resources.files("vmemlab.examples").joinpath(name).read_text(encoding="utf-8")
    return parse(text, name)


def default() -> Scenario:
    return builtin("default.toml")


def lesson_files() -> list[str]:
    """The numbered lessons shipped with vmemlab, in course order."""
    names = [f.name for f in resources.files("vmemlab.examples").iterdir()]
    return sorted(n for n in names if n.endswith(".toml") and n[:2].isdigit())


def with_seed(s: Scenario, seed: int) -> Scenario:
    """The scenario with another seed (``-s``); ScenarioError if the seed is out of range."""
    config = replace(s.config, seed=seed)
    try:
        config.validate()
    except ConfigError as e:
        raise ScenarioError(s.source, "--seed", str(e)) from None
    return replace(s, config=config)
