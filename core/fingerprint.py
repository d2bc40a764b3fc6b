"""A digest of a model object's whole state: equal digests mean equal states.

It walks attributes, containers, numpy arrays and the RNG's bit-generator state, so a field
added to any model class is covered without being listed here. ``skip`` names attributes left
out (a clock, a counter, a cache). Used to see that a retry left the machine as it found it,
and by tests to prove that a refused action changed nothing, the RNG included.
"""
from __future__ import annotations

import hashlib
import types
from enum import Enum
from typing import Any

import numpy as np

_PLAIN = (type(None), bool, int, float, str, bytes, Enum, np.generic)
_CODE = (types.MethodType, types.FunctionType, types.BuiltinFunctionType)


def digest(obj: Any, skip: frozenset[str] = frozenset()) -> str:
    """Hex digest of everything reachable from ``obj`` (attributes named in ``skip`` excluded)."""
    h = hashlib.blake2b(digest_size=20)
    _walk(obj, h, skip, {})
    return h.hexdigest()


def _walk(obj: Any, h, skip: frozenset[str], seen: dict[int, int]) -> None:
    if isinstance(obj, _PLAIN):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, _CODE):
        return                       # bound methods (emit callbacks) carry no state of their own
    key = id(obj)
    if key in seen:
        h.update(f"@{seen[key]};".encode())
        return
    seen[key] = len(seen)
    if isinstance(obj, np.ndarray):
        h.update(f"array:{obj.dtype.str}:{obj.shape};".encode())
        if obj.flags.writeable:
            h.update(np.ascontiguousarray(obj).data)
        else:                        # read-only arrays are never changed in place: identity suffices
            h.update(f"ro{key};".encode())
        return
    if isinstance(obj, np.random.Generator):
        _walk(obj.bit_generator.state, h, skip, seen)
        return
    if isinstance(obj, dict):
        h.update(f"dict{len(obj)};".encode())
        if all(isinstance(k, _PLAIN) and isinstance(v, _PLAIN) for k, v in obj.items()):
            try:
                items = sorted(obj.items())
            except TypeError:
                items = sorted(obj.items(), key=repr)
            h.update(repr(items).encode())
            return
        for k, v in sorted(obj.items(), key=lambda kv: repr(kv[0])):
            _walk(k, h, skip, seen)
            _walk(v, h, skip, seen)
        return
    if isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__}{len(obj)};".encode())
        for v in obj:
            _walk(v, h, skip, seen)
        return
    if isinstance(obj, (set, frozenset)):
        h.update(repr(sorted(map(repr, obj))).encode())
        return
    h.update(f"<{type(obj).__qualname__}>".encode())
    names = sorted(vars(obj)) if hasattr(obj, "__dict__") else []
    names += sorted(n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ()))
    for name in names:
        if name in skip or not hasattr(obj, name):
            continue
        h.update(f".{name}=".encode())
        _walk(getattr(obj, name), h, skip, seen)
