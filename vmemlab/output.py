"""What the ``vmemlab`` command prints is made safe for a terminal.

Titles, notes, device ids and file names come from files anyone can write. A control
character in them (an escape sequence that clears the screen, a carriage return that hides
a line, a right-to-left override) would act on the terminal instead of being shown; here it
is shown as an escape (``\\x1b``) instead. Newlines and tabs stay.
"""
from __future__ import annotations

import io
import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}
_TABLE.update({c: f"\\u{c:04x}" for c in _BIDI})


def printable(text: str) -> str:
    """``text`` with every control character (but newline and tab) written as an escape."""
    return text.translate(_TABLE)


class PrintableStream(io.TextIOBase):
    """A text stream that writes ``printable(text)`` to the stream it wraps."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")


@contextmanager
def printable_output() -> Iterator[None]:
    """sys.stdout and sys.stderr print control characters as escapes while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PrintableStream(sys.stdout), PrintableStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


__all__ = ["PrintableStream", "printable", "printable_output"]
