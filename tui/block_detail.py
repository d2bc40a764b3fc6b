"""Block detail: the selected memory block's subblock bitmap, page use per subblock, sysfs state."""
from __future__ import annotations

import numpy as np
from rich.style import Style as RichStyle
from rich.text import Text

from vmemlab.core.memory import PAGES_PER_CHUNK
from vmemlab.core.units import format_size, human
from vmemlab.core.view import CHUNK_STYLE, Chunk, aggregate

from .style import CHUNK_GLYPHS, CHUNK_TILES, QuietStatic, chunk_legend_entries, legend

LEVELS = np.array(list(" ▁▂▃▄▅▆▇█"))
MAX_ROWS = 4                   # bitmap rows on a tall terminal; bigger blocks group subblocks per column
ROWS_BY_HEIGHT = ((50, MAX_ROWS), (30, 2), (0, 1))     # (terminal rows at least, bitmap rows)
ALWAYS_ALL = 64                # a block of up to 64 subblocks shows every one (rows wrap)
DIM = RichStyle(color="#8a8a8a")
KEY = RichStyle(color="#8a8a8a")
VALUE = RichStyle(bold=True)


def _row_length(room: int, n: int) -> int:
    """Subblocks per bitmap row: a power of two that fits, so rows line up with subblock numbers."""
    per = 1
    while per * 2 <= min(max(8, room), n):
        per *= 2
    return per


def columns_per_tile(n: int, width: int, max_rows: int = MAX_ROWS) -> int:
    """Subblocks per bitmap column so that the bitmap takes at most ``max_rows`` rows (a power of
    two); a block of up to ALWAYS_ALL subblocks (128 MiB) shows each one."""
    if n <= ALWAYS_ALL:
        return 1
    room = _row_length(max(8, width), n) * max_rows
    group = 1
    while n > room * group:
        group *= 2
    return group


def _fit(cells: np.ndarray, fill: np.ndarray, width: int, max_rows: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Big memory blocks (e.g. 1024 subblocks of a 2 GiB block) show groups of subblocks: the
    most restrictive state of each group (an unmovable page wins) and its average fill."""
    group = columns_per_tile(len(cells), width, max_rows)
    if group == 1:
        return cells, fill, 1
    shown, _ = aggregate(cells, len(cells) // group)
    return shown, fill.reshape(-1, group).mean(axis=1), group


def render_block(info: dict, width: int, unit: str, max_rows: int = MAX_ROWS) -> Text:
    """The detail text for ``core.view.block_info`` output, laid out for ``width`` columns.

    Below 100 columns it is compact: facts on two lines, no legend (F1 has it)."""
    compact = width < 100
    t = Text()
    cells = info["cells"]
    t.append(info["name"], RichStyle(bold=True, color="#56b4e9"))
    if not compact:
        t.append(f"  {info['range']}", DIM)
    for key, value in (("state", info["sysfs_state"]), ("zone", info["zone"]), ("driver", info["driver_state"])):
        t.append(f"  {key} ", KEY)
        t.append(str(value), VALUE)
    t.append("\n")
    n_plugged = int(np.count_nonzero(cells >= Chunk.OFFLINE))
    t.append("plugged ", KEY)
    t.append(f"{format_size(info['plugged'])}/{format_size(info['size'])}", VALUE)
    if not compact:
        t.append(f" ({n_plugged}/{len(cells)} {unit}s)", DIM)
    t.append("  memmap ", KEY)
    t.append((human(info["memmap"]) if info["memmap"] else "none") + "  ", VALUE)
    t.append("pages ", KEY)
    names = ("free", "mov", "unmov") if compact else ("free", "movable", "unmovable")
    t.append(f"{names[0]} {info['free_pages']} {names[1]} {info['movable_pages']} "
             f"{names[2]} {info['unmovable_pages']}\n", VALUE)
    used = np.asarray(info["movable_per_chunk"]) + np.asarray(info["unmovable_per_chunk"])
    fill = np.where(cells >= Chunk.FREE, used, 0) / PAGES_PER_CHUNK
    cells, fill, group = _fit(cells, fill, width - 8, max_rows)
    levels = LEVELS[np.ceil(fill * 8).astype(int)]
    tile_w = 2 if width - 8 >= 2 * len(cells) else 1
    per = _row_length((width - 8) // tile_w, len(cells))
    gap = " " * (tile_w - 1)
    prefix = "sb" if unit == "subblock" else "ch"
    for start in range(0, len(cells), per):
        t.append(f"{prefix}{start * group:>4}  ", DIM)
        for code in cells[start:start + per].tolist():
            t.append(CHUNK_GLYPHS[code], CHUNK_TILES[code])
            t.append(gap)
        t.append("\n")
        t.append("used    ", DIM)
        for code, level in zip(cells[start:start + per].tolist(), levels[start:start + per].tolist()):
            t.append(level + gap, RichStyle(color=CHUNK_STYLE[Chunk(code)].colour))
        t.append("\n")
    if not compact:
        t.append_text(legend(chunk_legend_entries(), width))
    t.rstrip()
    return t


def bitmap_rows(terminal_height: int) -> int:
    """How many bitmap rows a big block may take on a terminal that high."""
    return next(rows for height, rows in ROWS_BY_HEIGHT if terminal_height >= height)


class BlockDetail(QuietStatic):
    """Shows one memory block; the app calls ``show`` with ``core.view.block_info`` output."""

    def max_rows(self) -> int:
        return bitmap_rows(self.app.size.height)

    def show(self, info: dict, unit: str) -> None:
        self.border_title = f"block {info['name']}"
        width = self.content_size.width or 64
        group = columns_per_tile(len(info["cells"]), width - 8, self.max_rows())
        times = " x " if unit[0].isdigit() else " "             # "4 x 2 MiB chunks", "4 subblocks"
        per = f"one {unit}" if group == 1 else f"{group}{times}{unit}s (most restrictive)"
        self.border_subtitle = f"a column = {per} · used = pages in use"
        self._info, self._unit = info, unit
        self.show_text(render_block(info, width, unit, self.max_rows()))

    def on_resize(self) -> None:
        self.call_after_refresh(self._again)          # not inside the layout pass

    def _again(self) -> None:
        """Lay the block shown *now* out for the new width (not the one shown at the resize)."""
        if getattr(self, "_info", None) is not None:
            self.show(self._info, self._unit)
