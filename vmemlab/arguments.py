"""Argument types shared by the subcommands: each refuses bad values with the allowed ones.

argparse prints the usage line and ``error: argument --port: ...`` and exits 2, the
command line's convention; values are shown cut short (a 5000-digit number is not echoed).
"""
from __future__ import annotations

import argparse
import re
from typing import Callable

from vmemlab.core.config import MAX_SEED
from vmemlab.core.units import SizeError, parse_size, shown

_WHOLE = re.compile(r"[+-]?\d+", re.ASCII)


def whole(text: str, low: int, high: int, allowed: str = "") -> int:
    """A whole number from ``low`` to ``high`` (``allowed`` says so in words)."""
    allowed = allowed or f"{low} to {high}"
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number; allowed: {allowed}")
    if len(text) > 30 or not low <= int(text) <= high:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not allowed; allowed: {allowed}")
    return int(text)


def integer(text: str) -> int:
    """Any whole number (its range is checked where the value is used)."""
    return whole(text, -(1 << 63), (1 << 63) - 1, "a whole number")


def seed(text: str) -> int:
    """``-s/--seed``: the machine's seed, 0 to 2^64-1."""
    return whole(text, 0, MAX_SEED, "0 to 2^64-1")


def port(text: str) -> int:
    """``--port``: a TCP port, or 0 for a free one."""
    return whole(text, 0, 65535, "a TCP port from 1 to 65535, or 0 for a free one")


def count(low: int = 1, high: int = 1000) -> Callable[[str], int]:
    """A count such as ``--repeats``, from ``low`` to ``high``."""
    return lambda text: whole(text, low, high)


def sizes(text: str) -> tuple[int, ...]:
    """``--sizes 1G,64G,4T``: region sizes, each a positive multiple of 128M up to 64T."""
    out = []
    for part in text.split(","):
        try:
            size = parse_size(part.strip(), "--sizes")
        except SizeError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("--sizes: ")) from None
        if not 0 < size <= 64 << 40 or size % (128 << 20):
            raise argparse.ArgumentTypeError(f"{shown(part.strip())} is not allowed; allowed: multiples of 128M "
                                             "up to 64T, comma-separated")
        out.append(size)
    return tuple(out)
