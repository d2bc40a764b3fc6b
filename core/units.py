"""Human sizes at the edges ("128M", "4G"), integer bytes inside.

Sizes are binary (K = 1024), as QEMU's ``-m 4G`` and Linux's ``lsmem`` read them.
"""
from __future__ import annotations

import re

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40
PAGE_SIZE = 4 * KiB
PAGEBLOCK_SIZE = 2 * MiB

_SUFFIX = {"": 1, "B": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """A size the user typed could not be understood or is not allowed."""


def parse_size(text: str | int, field: str = "size") -> int:
    """Parse "128M", "4G", "2MiB", "1.5G" or a plain byte count into bytes.

    Fractions are allowed only when they give whole bytes ("1.5G" is fine, "0.3K" is not).
    """
    if isinstance(text, bool):
        raise SizeError(f"{field}: expected a size like '128M' or '4G', got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise SizeError(f"{field}: a size cannot be negative, got {text}")
        return text
    if not isinstance(text, str):
        raise SizeError(f"{field}: expected a size like '128M' or '4G', got {text!r}")
    m = _SIZE_RE.match(text)
    if not m:
        raise SizeError(
            f"{field}: {text!r} is not a size; write a number with an optional unit "
            "K, M, G or T (binary), e.g. '2M', '128M', '4G'"
        )
    number, unit = m.group(1), m.group(2).upper()
    scale = _SUFFIX[unit]
    if "." in number:
        whole, frac = number.split(".")
        value = int(whole) * scale + (int(frac) * scale) // (10 ** len(frac))
        if (int(frac) * scale) % (10 ** len(frac)):
            raise SizeError(f"{field}: {text!r} is not a whole number of bytes")
        return value
    return int(number) * scale


def format_size(n: int) -> str:
    """Exact short form: the largest unit that divides n ("128M", "4G", "130M", "0")."""
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, scale in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB)):
        if n % scale == 0:
            return f"{sign}{n // scale}{unit}"
    return f"{sign}{n}B"


def readable_size(n: int) -> str:
    """Exact and readable: ``format_size`` while its number stays below 1024 ("130M", "4G"),
    otherwise a sum of units ("1T + 256M" for 1048832M, "1G + 512M" for 1536M)."""
    short = format_size(n)
    if n == 0 or int(short.lstrip("-")[:-1]) < 1024:
        return short
    sign, n = ("-" if n < 0 else ""), abs(n)
    parts = []
    for unit, scale in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB), ("B", 1)):
        if n >= scale:
            parts.append(f"{n // scale}{unit}")
            n %= scale
    return sign + " + ".join(parts)


def human(n: int) -> str:
    """Rounded form for displays ("1.5 GiB", "130 MiB")."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, scale in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            value = n / scale
            text = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
            return f"{sign}{text} {unit}"
    return f"{sign}{n} B"


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def align_up(n: int, align: int) -> int:
    return -(-n // align) * align
