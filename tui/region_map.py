"""The region map: one tile per memory block of a device region, state by colour and glyph.

Large regions are aggregated (``core.view.aggregate``: each tile shows the most advanced state of
its group) so the map always fits; all per-block work is numpy, and Python touches only the tiles
on screen. The scale (tile size, blocks per tile) depends on the terminal's size only, never on
the height the lesson text leaves: a tile covers the same blocks for the whole lesson.
"""
from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.binding import Binding
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from vmemlab.core.units import human
from vmemlab.core.view import aggregate, aggregate_marks

from .block_detail import bitmap_rows
from .style import MAP_STYLES, MAP_TILES, UNTILED_CELLS, chunk_legend_entries, legend, map_codes, map_legend_entries

# Tile geometries, largest first: (columns including one blank, rows). The largest that shows
# the whole region unaggregated in the map's row budget is used; (2, 1) is the floor.
GEOMETRIES = ((6, 3), (4, 2), (2, 1))
SMALL = GEOMETRIES[-1]
MAX_SHARE = 0.45        # of the screen, borders included: app.tcss says max-height: 45%
SIDE_PANELS = 46        # app.tcss: #right's width on a wide terminal
COMPACT_LEGEND = 2      # app.tcss: #legend.-compact max-height
FULL_LEGEND_HEIGHT = 50 # terminals at least this high list every glyph under the map


def full_legend(width: int, height: int) -> bool:
    """Every glyph under the map (a wide and tall terminal), or only those on screen."""
    return width >= 110 and height >= FULL_LEGEND_HEIGHT


def reserved_rows(width: int, height: int, narrow: bool) -> int:
    """Screen rows every other panel may take at its largest on a ``width`` x ``height``
    terminal (app.tcss): header, lesson box, status bar, the map's border, legend, block panel,
    the events panel's minimum, status line (two lines for a long refusal), footer. The map gets the rest, so its scale follows
    the terminal's size and nothing else (not the lesson text, not the glyphs on screen)."""
    left = width - (0 if narrow else SIDE_PANELS) - 4          # content width of the left column
    rows = bitmap_rows(height)
    block = 2 + 2 + 2 * rows + (legend(chunk_legend_entries(), left).plain.count("\n") + 1 if left >= 100 else 0)
    legend_lines = legend(map_legend_entries(), left).plain.count("\n") + 1 if full_legend(width, height) \
        else COMPACT_LEGEND
    if narrow:
        return 4 + 2 + 2 + legend_lines + block + 5 + 2 + 1
    return 1 + 7 + 2 + 2 + legend_lines + block + 7 + 2 + 1


def map_rows_budget(width: int, height: int, narrow: bool) -> int:
    """Rows of tiles' text the map may use on a terminal of that size."""
    return max(1, min(height - reserved_rows(width, height, narrow), int(height * MAX_SHARE) - 2))
LABEL_STYLE = RichStyle(color="#8a8a8a")
CURSOR_STYLE = RichStyle(color="#ffffff", bold=True)
CURSOR_TILE = RichStyle(reverse=True, bold=True)


class RegionMap(Widget, can_focus=True):
    """Tiles for one device; ``show`` feeds it, ``BlockSelected`` reports the user's choice."""

    BINDINGS = [
        Binding("left,h", "move(-1, 0)", "block left", show=False),
        Binding("right,l", "move(1, 0)", "block right", show=False),
        Binding("up,k", "move(0, -1)", "row up", show=False),
        Binding("down,j", "move(0, 1)", "row down", show=False),
        Binding("home,g", "jump(0)", "first block", show=False),
        Binding("end,G", "jump(-1)", "last block", show=False),
    ]

    class BlockSelected(Message):
        """The user moved the cursor to (or clicked) local memory block ``local_mb``."""

        def __init__(self, local_mb: int) -> None:
            super().__init__()
            self.local_mb = local_mb

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.cells = np.zeros(0, dtype=np.uint8)
        self.marks = np.zeros(0, dtype=np.uint8)
        self.codes_shown: set[int] = set()      # display codes on screen, for the compact legend
        self.follow = False
        self.first_sysfs = 0
        self.block_size = 0
        self.selected = 0
        self.per = 1
        self.cols = 1
        self.geometry = SMALL
        self._strips: list[Strip] = []
        self._row_cache: dict = {}

    # ----- feeding ----------------------------------------------------------------------
    def show(self, cells: np.ndarray, marks: np.ndarray, first_sysfs: int, block_size: int, selected: int) -> None:
        """New states: ``cells`` are Cell codes, ``marks`` Mark codes (what the last change did), per block."""
        resized = len(cells) != len(self.cells) or first_sysfs != self.first_sysfs
        if not resized and selected == self.selected and np.array_equal(cells, self.cells) \
                and np.array_equal(marks, self.marks):
            return
        self.cells, self.marks = cells, marks
        self.first_sysfs, self.block_size = first_sysfs, block_size
        self.selected = int(np.clip(selected, 0, max(0, len(cells) - 1)))
        if resized:
            self.refresh(layout=True)
        self._build()

    def show_selected(self, local_mb: int) -> None:
        """Move the cursor without reporting it back (the app chose the block)."""
        self.selected = int(np.clip(local_mb, 0, max(0, len(self.cells) - 1)))
        self._build()

    def on_resize(self, event: Resize) -> None:
        self._build()

    # ----- layout -----------------------------------------------------------------------
    def _label_width(self) -> int:
        return len(f"memory{self.first_sysfs + max(0, len(self.cells) - 1)}") + 1

    def _columns(self, width: int, geometry: tuple[int, int]) -> int:
        cols = max(1, (width - self._label_width()) // geometry[0])
        return cols // 8 * 8 if cols >= 8 else cols

    def _rows(self, width: int, geometry: tuple[int, int]) -> int:
        return -(-len(self.cells) // self._columns(width, geometry)) * geometry[1]

    def _geometry(self, width: int, height: int) -> tuple[int, int]:
        return next((g for g in GEOMETRIES if self._rows(width, g) <= height), SMALL)

    def budget(self) -> int:
        """The rows this map may use: from the terminal's size, not from the panels around it."""
        width, height = self.app.size
        return map_rows_budget(width, height, width < self.app.HORIZONTAL_BREAKPOINTS[1][0])

    @staticmethod
    def _capacity(n: int, room: int) -> int:
        """How many tiles to use: blocks per tile is rounded up to a power of two for round labels."""
        per = -(-n // max(1, room))
        if per <= 1:
            return room
        return -(-n // (1 << (per - 1).bit_length()))

    def _layout(self, width: int) -> tuple[tuple[int, int], int, int]:
        """(geometry, columns, tiles) for ``width``: the same for every lesson text height."""
        budget = self.budget()
        geometry = self._geometry(width, budget)
        cols = self._columns(width, geometry)
        return geometry, cols, self._capacity(len(self.cells), cols * (budget // geometry[1]))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        geometry, cols, capacity = self._layout(width)
        return max(1, -(-min(capacity, len(self.cells)) // cols) * geometry[1])

    def _build(self) -> None:
        width, height = self.content_size
        if not len(self.cells) or width <= 0 or height <= 0:
            self._strips = []
            self.refresh()
            return
        self.geometry, self.cols, capacity = self._layout(width)
        cell_w, tile_h = self.geometry
        groups, self.per = aggregate(self.cells, capacity)
        marks = aggregate_marks(self.cells, self.marks, self.per)
        shown = map_codes(groups, marks)
        self.codes_shown = set(np.unique(shown).tolist())
        label_w = self._label_width()
        cursor = self.selected // self.per
        base = self.rich_style
        layout = (self.geometry, self.cols, self.per, width, base, self.first_sysfs)   # labels too
        old = self._row_cache if self._row_cache.get("layout") == layout else {"layout": layout}
        cache = {"layout": old["layout"]}
        strips, changed = [], []
        for start in range(0, len(shown), self.cols):
            row = shown[start:start + self.cols]
            key = (start, row.tobytes(), cursor - start if start <= cursor < start + self.cols else -1, label_w)
            lines = old.get(key)
            if lines is None:
                lines = self._tile_lines(row.tolist(), start, cursor, label_w, base)
                changed += range(len(strips), len(strips) + tile_h)
            cache[key] = lines
            strips += lines
        full = len(old) == 1 or len(strips) != len(self._strips)
        self._row_cache = cache
        self._strips = strips
        per_text = "1 tile = 1 memory block" if self.per == 1 else \
            f"1 tile = {self.per} memory blocks ({human(self.per * self.block_size)}), the most advanced state"
        self.border_subtitle = ("following the active block · " if self.follow else "") + per_text
        if full:
            self.refresh()
        elif changed:
            self.refresh(*(Region(0, y, width, 1) for y in changed))

    def _tile_lines(self, row: list[int], start: int, cursor: int, label_w: int, base: RichStyle) -> list[Strip]:
        """The text lines of one row of tiles, label first, with runs of equal style merged."""
        tile_h = self.geometry[1]
        label = f"memory{self.first_sysfs + start * self.per}".rjust(label_w - 1) + " "
        lines = []
        for r in range(tile_h):
            head = Segment(label if r == tile_h // 2 else " " * label_w, LABEL_STYLE)
            segs = Segment.simplify([head] + self._tile_row(row, start, cursor, r))
            lines.append(Strip(Segment.apply_style(segs, base)))
        return lines

    def _tile_row(self, row: list[int], start: int, cursor: int, r: int) -> list[Segment]:
        """Text row ``r`` of a row of tiles: the glyph sits in the middle row, the cursor is marked."""
        cell_w, tile_h = self.geometry
        inner = cell_w - 1
        segs = []
        for i, code in enumerate(row, start):
            style, glyph = MAP_TILES[code], MAP_STYLES[code].glyph
            if i != cursor:
                text = glyph.center(inner) if r == tile_h // 2 else " " * inner
                segs += [Segment(text, style), Segment(" ", style if code in UNTILED_CELLS else None)]
            elif inner == 1:
                segs += [Segment(glyph, style + CURSOR_TILE), Segment("◂", CURSOR_STYLE)]
            else:
                text = ("▸" + glyph.center(inner - 2) + "◂" if r == tile_h // 2 else
                        "▔" * inner if r == tile_h - 1 else " " * inner)
                segs += [Segment(text, style + CURSOR_TILE), Segment(" ")]
        return segs

    def render_line(self, y: int) -> Strip:
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.content_size.width, self.rich_style)

    # ----- selecting --------------------------------------------------------------------
    def _select(self, local_mb: int) -> None:
        local_mb = int(np.clip(local_mb, 0, len(self.cells) - 1))
        if local_mb != self.selected:
            self.selected = local_mb
            self._build()
        self.post_message(self.BlockSelected(local_mb))

    def action_move(self, dx: int, dy: int) -> None:
        if len(self.cells):
            group = self.selected // self.per + dx + dy * self.cols
            if not 0 <= group * self.per < len(self.cells):
                return
            self._select(group * self.per)

    def action_jump(self, where: int) -> None:
        if len(self.cells):
            self._select(0 if where == 0 else len(self.cells) - 1)

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.x < self._label_width():
            return
        cell_w, tile_h = self.geometry
        col = (offset.x - self._label_width()) // cell_w
        group = offset.y // tile_h * self.cols + col
        if col < self.cols and group * self.per < len(self.cells):
            self.focus()
            self._select(group * self.per)


class MapLegend(Static):
    """What the region map's glyphs mean, flowed to the width it gets: every glyph on a wide
    terminal, the glyphs on screen (F1 lists all) on a narrow one."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._codes: set[int] | None = None
        self._key: tuple | None = None

    def show(self, codes: set[int] | None) -> None:
        """``codes``: only these display codes (None: all of them)."""
        self._codes = codes
        width = self.content_size.width or 80
        key = (None if codes is None else frozenset(codes), width)
        if key == self._key:
            return
        self._key = key
        text = legend(map_legend_entries(codes), width)
        if codes is not None and len(text.plain.rsplit("\n", 1)[-1]) + 18 <= width:
            text.append("   F1: every glyph", "#8a8a8a")        # only where it takes no extra line
        self.update(text)

    def on_resize(self) -> None:
        self.call_after_refresh(lambda: self.show(self._codes))        # the codes current by then
