"""Scenario files (TOML): a machine, its devices and ordered steps, with precise errors.

A malformed file never produces a traceback: ScenarioError names the file, the step, the
field and the allowed values.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from . import actions as act
from .actions import Action, ActionError
from .config import ConfigError, DeviceConfig, MachineConfig
from .units import SizeError, parse_size

SIZE_FIELDS = {"boot_memory", "memory_block_size", "bbm_block_size", "kernel_reserved", "boot_kernel_used",
               "boot_holes", "below_4g",
               "region_size", "block_size", "requested_size", "addr", "hugetlb_page_size"}
STEP_META = {"note", "settle", "expect", "ask", "answer", "title"}


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


def _typed(source: str, where: str, name: str, value: Any, ftype: Any) -> Any:
    if name == "node_memory":
        if not isinstance(value, list):
            raise ScenarioError(source, where, f"{name}: expected a list of sizes, e.g. [\"512M\", \"512M\"]")
        return tuple(_typed(source, where, "boot_memory", v, None) for v in value)
    if name in SIZE_FIELDS:
        if value is None:
            return None
        try:
            return parse_size(value, name)
        except SizeError as e:
            raise ScenarioError(source, where, str(e)) from None
    want = {"int": int, "bool": bool, "str": str}.get(str(ftype).replace("<class '", "").replace("'>", ""))
    if want is bool and not isinstance(value, bool):
        raise ScenarioError(source, where, f"{name}: expected true or false, got {value!r}")
    if want is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ScenarioError(source, where, f"{name}: expected a whole number, got {value!r}")
    if want is str and not isinstance(value, str):
        raise ScenarioError(source, where, f"{name}: expected a string, got {value!r}")
    return value


def _table(source: str, where: str, raw: Any, cls: type, skip: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise ScenarioError(source, where, f"expected a table, got {type(raw).__name__}")
    allowed = {f.name: f.type for f in fields(cls) if f.name not in skip}
    out = {}
    for k, v in raw.items():
        if k not in allowed:
            raise ScenarioError(source, where, f"unknown key {k!r}; allowed: {', '.join(sorted(allowed))}")
        out[k] = _typed(source, where, k, v, allowed[k])
    return out


def parse(text: str, source: str = "<scenario>") -> Scenario:
    """Parse TOML text into a Scenario (validated: config, every step's action and fields)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "", f"not valid TOML: {e}") from None
    top = {"title", "intro", "machine", "device", "step"}
    for k in data:
        if k not in top:
            raise ScenarioError(source, "", f"unknown top-level key {k!r}; allowed: {', '.join(sorted(top))}")
    title = data.get("title", Path(source).stem)
    intro = data.get("intro", "")
    if not isinstance(title, str) or not isinstance(intro, str):
        raise ScenarioError(source, "", "title and intro must be strings")
    machine = _table(source, "[machine]", data.get("machine", {}), MachineConfig, {"devices"})
    raw_devices = data.get("device", [{}])
    if not isinstance(raw_devices, list) or not raw_devices:
        raise ScenarioError(source, "[[device]]", "write one [[device]] table per virtio-mem device")
    devices = tuple(DeviceConfig(**_table(source, f"device {i + 1}", d, DeviceConfig, set()))
                    for i, d in enumerate(raw_devices))
    config = MachineConfig(**machine, devices=devices)
    try:
        config.validate()
    except ConfigError as e:
        raise ScenarioError(source, "", str(e)) from None
    steps = []
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list):
        raise ScenarioError(source, "[[step]]", "steps must be an array of tables ([[step]])")
    for i, raw in enumerate(raw_steps, start=1):
        steps.append(_step(source, i, raw))
    return Scenario(title, intro, config, steps, source)


def _step(source: str, i: int, raw: Any) -> Step:
    where = f"step {i}"
    if not isinstance(raw, dict):
        raise ScenarioError(source, where, "expected a table")
    raw = dict(raw)
    meta = {k: raw.pop(k) for k in list(raw) if k in STEP_META}
    name = raw.pop("action", None)
    if name is None:
        raise ScenarioError(source, where, f"missing 'action'; allowed: {', '.join(act.ACTIONS)}")
    where = f"step {i} ({name})"
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


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), "", f"cannot read the file: {e.strerror}") from None
    return parse(text, str(path))


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
    return replace(s, config=replace(s.config, seed=seed))
