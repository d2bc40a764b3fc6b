"""Region map: one Bokeh image of memory blocks (rows) x 2 MiB subblocks (columns).

Colours come from ``core.view.CHUNK_STYLE``; a strip on the right shows each memory block's
driver state (``CELL_STYLE``). Invisible quads, one per display row, carry the hover text and
take the taps. After an action only the display rows that changed are patched, so a 4 TiB
region (32768 blocks, folded into at most ``grid.MAX_ROWS`` rows) sends a few KiB per update.
"""
from __future__ import annotations

import html
import math

import numpy as np
import panel as pn
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, HoverTool, Image, LinearColorMapper, Quad, Range1d, WheelZoomTool

from vmemlab.core import view
from vmemlab.core.memory import CHUNK_SIZE, ZONE_NAMES, Zone
from vmemlab.core.units import human

from . import grid
from .base import View, on_change
from .markup import html_pane
from .plot import plot
from .state import SandboxState

STRIP_GAP = 1.0       # columns between the subblocks and the block-state strip
STRIP_WIDTH = 4.0
HOVER_FIELDS = ("name", "range", "state", "zone", "plugged", "unmovable")


def chunk_mapper() -> LinearColorMapper:
    colours = [view.CHUNK_STYLE[c].colour for c in view.Chunk]
    return LinearColorMapper(palette=colours, low=0, high=len(colours))


def cell_mapper() -> LinearColorMapper:
    colours = [view.CELL_STYLE[c].colour for c in view.Cell]
    return LinearColorMapper(palette=colours, low=0, high=len(colours))


def legend_html() -> str:
    """Colour swatches with labels for both palettes (state by colour and by word)."""
    def items(styles) -> str:
        return "".join(f'<span class="vm-swatch"><i style="background:{s.colour}"></i>{s.label}</span>'
                       for s in styles)
    return (f'<div class="vm-legend"><b>subblocks</b> {items(view.CHUNK_STYLE.values())}</div>'
            f'<div class="vm-legend"><b>memory block (strip)</b> {items(view.CELL_STYLE.values())}</div>')


class BlockNumbers:
    """Per-memory-block numbers of one device that the hover text is made of (numpy arrays)."""

    def __init__(self, m, dev: int):
        drv = m.drivers[dev]
        mem = m.mem
        self.n = drv.n_mb
        self.first = int(mem.mb_phys[drv.mb_off])
        self.mb_size = mem.mb_size
        self.chunks_per_mb = mem.chunks_per_mb
        blocks = slice(drv.mb_off, drv.mb_off + drv.n_mb)
        chunks = slice(drv.seg.chunk_off, drv.seg.chunk_off + drv.n_mb * mem.chunks_per_mb)
        self.cells = view.block_cells(m, dev)
        self.zone = np.where(mem.mb_online[blocks], mem.mb_zone[blocks], Zone.NONE).astype(np.uint8)
        self.plugged = mem.plugged[chunks].reshape(self.n, -1).sum(axis=1)
        self.unmovable = mem.unmovable(chunks).reshape(self.n, -1).sum(axis=1)

    def key(self) -> np.ndarray:
        """One row per block; a block's hover text changes exactly when its row does."""
        return np.stack((self.cells.astype(np.int64), self.zone, self.plugged, self.unmovable), axis=1)

    def row_text(self, first_block: int, stop_block: int) -> dict[str, str]:
        """Hover text of the display row covering local blocks [first_block, stop_block)."""
        stop = min(stop_block, self.n)
        a, b = self.first + first_block, self.first + stop - 1
        count = stop - first_block
        cells = self.cells[first_block:stop]
        if count == 1:
            state = view.CELL_STYLE[view.Cell(int(cells[0]))].label
            name = f"memory{a}"
        else:
            codes = np.bincount(cells, minlength=len(view.Cell))
            state = ", ".join(f"{n} {view.CELL_STYLE[view.Cell(c)].label}" for c, n in enumerate(codes) if n)
            name = f"memory{a}..memory{b} ({count} blocks in this row)"
        zones = sorted({ZONE_NAMES[Zone(int(z))] for z in self.zone[first_block:stop]})
        plugged = int(self.plugged[first_block:stop].sum())
        start = a * self.mb_size
        return {
            "name": name,
            "range": f"{start:#x}-{start + count * self.mb_size - 1:#x}",
            "state": state,
            "zone": ", ".join(zones),
            "plugged": f"{human(plugged * CHUNK_SIZE)} of {human(count * self.mb_size)} "
                       f"({plugged} of {count * self.chunks_per_mb} subblocks)",
            "unmovable": f"{int(self.unmovable[first_block:stop].sum()):,} pages",
        }


class RegionMap(View):
    """The device region as an image; tap a block to select it."""

    def __init__(self, state: SandboxState, device: int = 0, max_rows: int = grid.MAX_ROWS, **params):
        self.device = device
        self.max_rows = max_rows
        self._shown: np.ndarray | None = None     # the folded image last sent to the browser
        self._strip: np.ndarray | None = None
        self._keys: np.ndarray | None = None
        self._per, self._first = 1, 0
        self.pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.title = html_pane(margin=(0, 10))
        super().__init__(state, **params)
        on_change(state, self._show_selection, "selected_block")
        self.update()

    # ----- building ---------------------------------------------------------------------
    def _build(self) -> None:
        """Fresh sources, ranges and figure for a new shape of map (another scenario).

        Patching ranges, bounds and sources of a drawn plot to another shape leaves BokehJS with
        the old bounds clamping the new ranges and renderers sized for the old data; a new plot
        has none of that state."""
        empty = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        self.image = ColumnDataSource(data=dict(empty), name="vm-region-image")
        self.strip = ColumnDataSource(data=dict(empty))
        self.rows = ColumnDataSource(data={k: [] for k in ("left", "right", "bottom", "top") + HOVER_FIELDS},
                                     name="vm-region-rows")
        self.selection = ColumnDataSource(data={"left": [], "right": [], "bottom": [], "top": []})
        self.figure = self._figure()

    def _figure(self):
        fig = plot(height=420, x_range=Range1d(0, 1), y_range=Range1d(1, 0), tools="pan,box_zoom,reset,save",
                   grid="", min_border_left=60, outline_line_color="#999999",
                   x_label="2 MiB subblock within the memory block", y_label="memory block (memoryN)")
        fig.add_tools(WheelZoomTool(dimensions="height"))
        fig.add_glyph(self.image, Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=chunk_mapper()))
        fig.add_glyph(self.strip, Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=cell_mapper()))
        edges = {"left": "left", "right": "right", "bottom": "bottom", "top": "top"}
        rows = fig.add_glyph(self.rows, Quad(**edges, fill_alpha=0, line_alpha=0),
                             hover_glyph=Quad(**edges, fill_alpha=0.15, fill_color="#ffffff", line_alpha=1,
                                              line_color="#222222"))
        self._rows_glyph = rows.glyph
        fig.add_glyph(self.selection, Quad(**edges, fill_alpha=0, line_color="#000000", line_width=3))
        fig.add_tools(HoverTool(renderers=[rows], tooltips=[
            ("block", "@name"), ("range", "@range"), ("state", "@state"), ("zone", "@zone"),
            ("plugged", "@plugged"), ("unmovable", "@unmovable")]))
        fig.below[0].ticker.desired_num_ticks = 8
        fig.on_event(Tap, self._on_tap)
        return fig

    def __panel__(self):
        return pn.Column(self.title, self.pane, html_pane(legend_html()), sizing_mode="stretch_width")

    # ----- updating ---------------------------------------------------------------------
    def update(self) -> None:
        m = self.state.machine
        if self.device >= len(m.devices):
            self.device = 0
        nums = BlockNumbers(m, self.device)
        per = grid.blocks_per_row(nums.n, self.max_rows)
        shown = grid.fold_rows(view.chunk_cells(m, self.device), per)
        strip = grid.fold_rows(nums.cells, per)[:, None]
        keys = nums.key()
        if self._shown is None or self._shown.shape != shown.shape or self._per != per or self._first != nums.first:
            self._replace(nums, per, shown, strip)
        else:
            self._patch(nums, per, shown, strip, keys)
        self._shown, self._strip, self._keys = shown, strip, keys
        d = m.devices[self.device]
        fold = f"; {per} memory blocks per row (zoom in with the mouse wheel)" if per > 1 else ""
        self.title.object = (f"<p><b>{html.escape(d.id)}</b>: region {human(d.region_size)} at {d.addr:#x}, "
                             f"{nums.n} memory blocks of {human(nums.mb_size)} x "
                             f"{nums.chunks_per_mb} subblocks of 2 MiB{fold}</p>")

    def _replace(self, nums: BlockNumbers, per: int, shown: np.ndarray, strip: np.ndarray) -> None:
        self._per, self._first = per, nums.first
        self._build()
        cols = shown.shape[1]
        height = len(shown) * per
        self.image.data = {"image": [shown], "x": [0], "y": [nums.first], "dw": [cols], "dh": [height]}
        self.strip.data = {"image": [strip], "x": [cols + STRIP_GAP], "y": [nums.first],
                           "dw": [STRIP_WIDTH], "dh": [height]}
        starts = np.arange(len(shown)) * per
        texts = [nums.row_text(int(s), int(s) + per) for s in starts]
        data = {"left": np.zeros(len(shown)), "right": np.full(len(shown), cols + STRIP_GAP + STRIP_WIDTH),
                "bottom": nums.first + starts.astype(float), "top": nums.first + (starts + per).astype(float)}
        data.update({k: [t[k] for t in texts] for k in HOVER_FIELDS})
        self.rows.data = data
        right = cols + STRIP_GAP + STRIP_WIDTH
        self.figure.x_range.update(start=0, end=right, bounds=(0, right))
        self.figure.y_range.update(start=nums.first + height, end=nums.first, bounds=(nums.first, nums.first + height))
        self.figure.height = int(min(640, max(260, len(shown) * 12 + 90)))
        small = per == 1 and len(shown) <= 128
        self._rows_glyph.update(line_color="#ffffff", line_alpha=0.8 if small else 0.0)
        self._show_selection()
        self.pane.object = self.figure

    def _patch(self, nums: BlockNumbers, per: int, shown: np.ndarray, strip: np.ndarray, keys: np.ndarray) -> None:
        image_rows = grid.changed_rows(self._shown, shown)
        for a, b in grid.runs(image_rows):
            self.image.patch({"image": [((0, slice(a, b), slice(None)), shown[a:b].ravel())]})
        for a, b in grid.runs(grid.changed_rows(self._strip, strip)):
            self.strip.patch({"image": [((0, slice(a, b), slice(None)), strip[a:b].ravel())]})
        changed = np.unique(grid.changed_rows(self._keys, keys) // per)
        patches: dict[str, list] = {k: [] for k in HOVER_FIELDS}
        for a, b in grid.runs(changed):
            texts = [nums.row_text(r * per, r * per + per) for r in range(a, b)]
            for k in HOVER_FIELDS:
                patches[k].append((slice(a, b), [t[k] for t in texts]))
        if len(changed):
            self.rows.patch(patches)

    # ----- selection --------------------------------------------------------------------
    def _on_tap(self, event) -> None:
        if event.y is None:
            return
        sysfs = math.floor(event.y)
        n = self.state.machine.drivers[self.device].n_mb
        if self._first <= sysfs < self._first + n:
            self.state.select_block(sysfs)

    def _show_selection(self) -> None:
        b = self.state.selected_block
        if b is None or not self._first <= b < self._first + self.state.machine.drivers[self.device].n_mb:
            self.selection.data = {"left": [], "right": [], "bottom": [], "top": []}
            return
        right = self.figure.x_range.end
        self.selection.data = {"left": [0], "right": [right], "bottom": [b], "top": [b + 1]}
