"""Small text rules every panel shares: plurals, and cutting at a word boundary with a sign."""
from __future__ import annotations

import re

ELLIPSIS = "…"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 event``, ``2 events``, ``0 actions``."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def shorten(text: str, width: int, boundaries: str = "") -> str:
    """``text`` if it fits in ``width`` cells, else cut at the last space (or one of
    ``boundaries``, e.g. "_" for event kinds) that leaves room for "…"; mid-word only when a single
    word is longer than most of the room."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    pattern = re.compile(r"[\s" + re.escape(boundaries) + "]") if boundaries else re.compile(r"\s")
    cut = max((m.start() for m in pattern.finditer(text, 0, room + 1)), default=-1)
    if cut < room * 0.5:
        cut = room
    return text[:cut].rstrip(" " + boundaries) + ELLIPSIS
