"""Reading a MachineConfig from plain data: a scenario's TOML tables or a trace's JSON.

Every field is typed strictly by the dataclass's own annotations: a bool is true or false
(never the string "no", which Python would read as true), an int is a whole number (never
"2" or true), a size is "4G" or a byte count. ``MachineConfig.validate`` then checks the
ranges. Every format goes through this one reader, so no reader can trust a field another
one checks.
"""
from __future__ import annotations

import typing
from dataclasses import fields
from typing import Any

from .config import ConfigError, DeviceConfig, MachineConfig
from .machine import device_addrs
from .units import SizeError, parse_size, shown

SIZE_FIELDS = {"boot_memory", "memory_block_size", "bbm_block_size", "kernel_reserved", "boot_kernel_used",
               "boot_holes", "below_4g", "region_size", "block_size", "requested_size", "addr",
               "hugetlb_page_size"}
SIZE_LISTS = {"node_memory"}
_WORDS = {bool: "true or false", int: "a whole number", str: "a string"}


class FieldError(ValueError):
    """A config field of the wrong type or an unknown key; ``where`` names the table."""

    def __init__(self, where: str, message: str):
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


def _optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _wanted(annotation: Any) -> type:
    """str / int / bool from an annotation (``int | None`` counts as int)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def _size(where: str, key: str, value: Any) -> int:
    try:
        return parse_size(value, key)
    except SizeError as e:
        raise FieldError(where, str(e)) from None


def typed_fields(raw: Any, cls: type, where: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments of ``cls`` from a table, each of its declared type."""
    if not isinstance(raw, dict):
        raise FieldError(where, f"expected a table of keys, got {shown(raw)}")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in fields(cls) if f.name not in skip]
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise FieldError(where, f"unknown key {shown(key)}; allowed: {', '.join(sorted(allowed))}")
        if value is None and _optional(hints[key]):      # JSON null: "the default" (a trace's addr, boot_holes)
            out[key] = None
            continue
        if key in SIZE_FIELDS:
            out[key] = _size(where, key, value)
            continue
        if key in SIZE_LISTS:
            if not isinstance(value, (list, tuple)):
                raise FieldError(where, f"{key}: expected a list of sizes, e.g. [\"512M\", \"512M\"], got {shown(value)}")
            out[key] = tuple(_size(where, f"{key}[{i}]", v) for i, v in enumerate(value))
            continue
        want = _wanted(hints[key])
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise FieldError(where, f"{key}: expected {_WORDS[want]}, got {shown(value)}")
        out[key] = value
    return out


def read_config(machine: Any, devices: Any, where: str, device_where: typing.Callable[[int], str]) -> MachineConfig:
    """A validated MachineConfig; raises FieldError (type, key) or ConfigError (range)."""
    if not isinstance(devices, list) or not devices:
        raise FieldError(device_where(0), "expected a non-empty list of virtio-mem devices")
    kwargs = typed_fields(machine, MachineConfig, where, skip=("devices",))
    devs = tuple(DeviceConfig(**typed_fields(d, DeviceConfig, device_where(i))) for i, d in enumerate(devices))
    config = MachineConfig(**kwargs, devices=devs)
    config.validate()
    device_addrs(config)              # where the regions go: not over boot memory or each other
    return config


__all__ = ["SIZE_FIELDS", "ConfigError", "FieldError", "read_config", "typed_fields"]
