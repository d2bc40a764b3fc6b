"""Rich styles for the state codes of ``core.view``: one tile style per code, built once.

The colours and glyphs come from ``core.view`` (CELL_STYLE, CHUNK_STYLE, MARK_STYLE); this
module only decides how a terminal draws them: a coloured tile with a contrasting glyph, or, for
"nothing here" states, a dim glyph without a tile so that empty space looks empty.
"""
from __future__ import annotations

from typing import Iterable

from rich.style import Style as RichStyle
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

import numpy as np

from vmemlab.core.view import CELL_STYLE, CHUNK_STYLE, MARK_STYLE, Cell, Chunk, Mark, Style

# Display codes for the region map: the Cell codes, then one per Mark (what the last change did
# to the block, shown instead of its state until the next change).
MARK_BASE = len(Cell) - 1
MAP_STYLES: list[Style] = [CELL_STYLE[c] for c in Cell] + [MARK_STYLE[m] for m in Mark if m]
UNTILED_CELLS = {int(Cell.UNUSED)}
UNTILED_CHUNKS = {int(Chunk.ABSENT)}


def map_codes(cells: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """Display codes: the mark where the last change did something, else the state."""
    return np.where(marks > 0, marks.astype(np.int16) + MARK_BASE, cells).astype(np.uint8)


def ink_for(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (relative luminance)."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def tile(style: Style, untiled: bool = False) -> RichStyle:
    if untiled:
        return RichStyle(color=style.colour)
    return RichStyle(color=ink_for(style.colour), bgcolor=style.colour, bold=True)


MAP_TILES: list[RichStyle] = [tile(s, i in UNTILED_CELLS) for i, s in enumerate(MAP_STYLES)]
CHUNK_TILES: list[RichStyle] = [tile(CHUNK_STYLE[c], int(c) in UNTILED_CHUNKS) for c in Chunk]
CHUNK_GLYPHS: list[str] = [CHUNK_STYLE[c].glyph if c != Chunk.ABSENT else "╌" for c in Chunk]


def map_legend_entries(codes: set[int] | None = None) -> list[tuple[str, RichStyle, str]]:
    """(glyph, tile style, label) of the region map's display codes (all, or those in ``codes``)."""
    return [(style.glyph, MAP_TILES[code], style.label) for code, style in enumerate(MAP_STYLES)
            if codes is None or code in codes]


def chunk_legend_entries() -> list[tuple[str, RichStyle, str]]:
    """(glyph, style, label) of the subblock bitmap, as the block panel draws them."""
    return [(CHUNK_GLYPHS[c], CHUNK_TILES[c], CHUNK_STYLE[c].label) for c in Chunk]


LEGEND_LABEL = RichStyle(color="#8a8a8a")


def flowed(pieces: Iterable[Text], width: int, gap: int, into: Text | None = None) -> Text:
    """Pieces laid out in lines of ``width``, ``gap`` spaces apart, never broken inside a piece."""
    t = into if into is not None else Text()
    used = 0
    for piece in pieces:
        size = len(piece.plain)
        if used and used + gap + size > width:
            t.append("\n")
            used = 0
        elif used:
            t.append(" " * gap)
            used += gap
        t.append_text(piece)
        used += size
    return t


def legend(entries: list[tuple[str, RichStyle, str]], width: int) -> Text:
    """Glyph-and-label entries flowed into lines of ``width``, never breaking inside an entry."""
    return flowed((Text.assemble((glyph, style), (" " + label, LEGEND_LABEL)) for glyph, style, label in entries),
                  width, 3)


class QuietStatic(Static):
    """A Static that repaints only when its content really changed (most panels don't, per key)."""

    _last: object = None
    _lines: int = -1

    def show_text(self, content: Text | Table, key: object = None) -> bool:
        """Update with ``content``; ``key`` (or the Text itself) decides whether it changed.
        Returns whether it did.

        A Text that wraps to as many lines as before is repainted without a new layout."""
        key = content if key is None else key
        if key == self._last:
            return False
        self._last = key
        width = self.content_size.width
        lines = len(content.wrap(self.app.console, width)) if isinstance(content, Text) and width > 0 else -1
        self.update(content, layout=lines < 0 or lines != self._lines)
        self._lines = lines
        return True
