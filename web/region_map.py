"""Region map: one Bokeh image of memory blocks (rows) x 2 MiB subblocks (columns).

Colours come from ``core.view.CHUNK_STYLE``; a strip on the right shows each memory block's
driver state (``CELL_STYLE``) and a second one what the last step did to it
(``view.block_marks``: + plugged, A added, - unplugged, ~ offlined, x removed). Colour is never
the only cue: blocks with no memoryN are hatched, marked blocks are outlined and hatched in their
mark's pattern, and while cells are big enough each carries the state's glyph, as in the
terminal UI. A caption over the map says in one line what the last step did.

Invisible quads, one per display row, carry the hover text and take the taps. After an action
only the display rows that changed are patched, so a 4 TiB region (32768 blocks, folded into at
most ``grid.MAX_ROWS`` rows) sends a few KiB per update. A map of another shape (another
scenario) gets a new plot: see ``_build``.
"""
from __future__ import annotations

import html
import math

import numpy as np
import panel as pn
from bokeh.events import Tap
from bokeh.models import (ColumnDataSource, HoverTool, Image, LinearColorMapper, Quad, Range1d, Text,
                          WheelZoomTool)

from vmemlab.core import view
from vmemlab.core.memory import CHUNK_SIZE, ZONE_NAMES, Zone
from vmemlab.core.units import format_size, human

from . import grid
from .base import View, on_change
from .markup import html_pane
from .plot import plot
from .state import SandboxState

STRIP_GAP = 1.0       # columns between the subblocks and the block-state strip
STRIP_WIDTH = 4.0
MARKS_GAP = 0.5
MARKS_WIDTH = 3.0
HOVER_FIELDS = ("name", "range", "state", "zone", "plugged", "unmovable", "mark")
GLYPH_ROWS, GLYPH_COLS = 45, 96        # draw glyphs while cells are at least ~10 px
ABSENT_HATCH = "#9a9a9a"
MARK_HATCH = {view.Mark.PLUGGED: "+", view.Mark.ADDED: "/", view.Mark.UNPLUGGED: "-",
              view.Mark.OFFLINED: "\\", view.Mark.REMOVED: "x"}
QUADS = ("left", "right", "bottom", "top")


def ink_for(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (as the terminal UI draws glyphs)."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def chunk_mapper() -> LinearColorMapper:
    colours = [view.CHUNK_STYLE[c].colour for c in view.Chunk]
    return LinearColorMapper(palette=colours, low=0, high=len(colours))


def cell_mapper() -> LinearColorMapper:
    colours = [view.CELL_STYLE[c].colour for c in view.Cell]
    return LinearColorMapper(palette=colours, low=0, high=len(colours))


def mark_mapper() -> LinearColorMapper:
    colours = ["#ffffff"] + [view.MARK_STYLE[m].colour for m in view.Mark if m != view.Mark.NONE]
    return LinearColorMapper(palette=colours, low=0, high=len(colours))


def swatch(colour: str, glyph: str, hatch: str = "") -> str:
    style = f"background:{colour};color:{ink_for(colour)}"
    cls = f' class="vm-hatch-{hatch}"' if hatch else ""
    return f'<i{cls} style="{style}">{html.escape(glyph.strip() or "&nbsp;")}</i>'.replace("&amp;nbsp;", "&nbsp;")


def legend_html(unit: str = "subblocks") -> str:
    """Swatches with glyph and label for both palettes and the marks: state by colour, by glyph
    and by word; "not added" is hatched on the map as in its swatch."""
    def items(styles, hatch_first: bool = False) -> str:
        return "".join(f'<span class="vm-swatch">{swatch(s.colour, s.glyph, "absent" if hatch_first and i == 0 else "")}'
                       f"{html.escape(s.label)}</span>" for i, s in enumerate(styles))
    marks = "".join(f'<span class="vm-swatch">{swatch(s.colour, s.glyph)}{html.escape(s.label)}</span>'
                    for s in view.MARK_STYLE.values())
    return (f'<div class="vm-legend"><b>{html.escape(unit)}</b> {items(view.CHUNK_STYLE.values(), True)}</div>'
            f'<div class="vm-legend"><b>memory block (strip)</b> {items(view.CELL_STYLE.values(), True)}</div>'
            f'<div class="vm-legend"><b>last step (outlined)</b> {marks}</div>')


class BlockNumbers:
    """Per-memory-block numbers of one device that the hover text is made of (numpy arrays)."""

    def __init__(self, m, dev: int, marks: np.ndarray):
        drv = m.drivers[dev]
        mem = m.mem
        self.n = drv.n_mb
        self.first = int(mem.mb_phys[drv.mb_off])
        self.mb_size = mem.mb_size
        self.chunks_per_mb = mem.chunks_per_mb
        self.unit = view.map_unit(m, dev)
        blocks = slice(drv.mb_off, drv.mb_off + drv.n_mb)
        chunks = slice(drv.seg.chunk_off, drv.seg.chunk_off + drv.n_mb * mem.chunks_per_mb)
        self.cells = view.block_cells(m, dev)
        self.marks = marks
        self.zone = np.where(mem.mb_online[blocks], mem.mb_zone[blocks], Zone.NONE).astype(np.uint8)
        self.plugged = mem.plugged[chunks].reshape(self.n, -1).sum(axis=1)
        self.unmovable = mem.unmovable(chunks).reshape(self.n, -1).sum(axis=1)

    def key(self) -> np.ndarray:
        """One row per block; a block's hover text changes exactly when its row does."""
        return np.stack((self.cells.astype(np.int64), self.zone, self.plugged, self.unmovable, self.marks), axis=1)

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
        marks = np.bincount(self.marks[first_block:stop], minlength=len(view.Mark))
        mark = ", ".join((f"{n} " if count > 1 else "") + view.MARK_STYLE[view.Mark(m)].label
                         for m, n in enumerate(marks) if n and m) or "-"
        start = a * self.mb_size
        return {
            "name": name,
            "range": f"{start:#x}-{start + count * self.mb_size - 1:#x}",
            "state": state,
            "zone": ", ".join(zones),
            "plugged": f"{human(plugged * CHUNK_SIZE)} of {human(count * self.mb_size)} "
                       f"({plugged} of {count * self.chunks_per_mb} {self.unit.plural})",
            "unmovable": f"{int(self.unmovable[first_block:stop].sum()):,} pages",
            "mark": mark,
        }


def row_runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, stop, value) of runs of equal non-zero values along a 1-D array."""
    if not len(values):
        return []
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [len(values)]))
    return [(int(a), int(b), int(values[a])) for a, b in zip(starts, stops) if values[a]]


class RegionMap(View):
    """The device region as an image; tap a block to select it."""

    first = True

    def __init__(self, state: SandboxState, device: int = 0, max_rows: int = grid.MAX_ROWS, **params):
        self.device = device
        self.max_rows = max_rows
        self._shown: np.ndarray | None = None     # the folded image last sent to the browser
        self._strip: np.ndarray | None = None
        self._marks: np.ndarray | None = None
        self._keys: np.ndarray | None = None
        self._overlays: tuple | None = None
        self._per, self._first = 1, 0
        self.pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.title = html_pane(margin=(0, 10), css_classes=["vm-map-title"])
        self.legend = html_pane(legend_html())
        self.caption = html_pane(margin=(0, 10), css_classes=["vm-caption-pane"])
        super().__init__(state, **params)
        on_change(state, self._show_selection, "selected_block")
        on_change(state, self.show_caption, "message")
        self.update()

    # ----- building ---------------------------------------------------------------------
    def _build(self) -> None:
        """Fresh sources, ranges and figure for a new shape of map (another scenario).

        Patching ranges, bounds and sources of a drawn plot to another shape leaves BokehJS with
        the old bounds clamping the new ranges and renderers sized for the old data; a new plot
        has none of that state."""
        def image() -> dict:
            return {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        self.image = ColumnDataSource(data=image(), name="vm-region-image")
        self.strip = ColumnDataSource(data=image(), name="vm-region-strip")
        self.marks = ColumnDataSource(data=image(), name="vm-region-marks")
        self.rows = ColumnDataSource(data={k: [] for k in QUADS + HOVER_FIELDS}, name="vm-region-rows")
        self.absent = ColumnDataSource(data={k: [] for k in QUADS}, name="vm-region-absent")
        self.marked = ColumnDataSource(data={k: [] for k in QUADS + ("colour", "hatch")}, name="vm-region-marked")
        self.glyphs = ColumnDataSource(data={"x": [], "y": [], "text": [], "ink": []}, name="vm-region-glyphs")
        self.mark_glyphs = ColumnDataSource(data={"x": [], "y": [], "text": []})
        self.selection = ColumnDataSource(data={k: [] for k in QUADS})
        self.figure = self._figure()

    def _figure(self):
        fig = plot(height=420, x_range=Range1d(0, 1), y_range=Range1d(1, 0), tools="pan,box_zoom,reset,save",
                   grid="", min_border_left=60, outline_line_color="#999999",
                   x_label="2 MiB subblock within the memory block", y_label="memory block (memoryN)")
        fig.add_tools(WheelZoomTool(dimensions="height"))
        edges = {k: k for k in QUADS}
        fig.add_glyph(self.image, Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=chunk_mapper()))
        fig.add_glyph(self.strip, Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=cell_mapper()))
        fig.add_glyph(self.marks, Image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=mark_mapper()))
        fig.add_glyph(self.absent, Quad(**edges, fill_alpha=0, line_alpha=0, hatch_pattern="/", hatch_scale=8,
                                        hatch_color=ABSENT_HATCH, hatch_alpha=0.7, hatch_weight=1))
        self._glyph_text_renderer = fig.add_glyph(self.glyphs, Text(
            x="x", y="y", text="text", text_color="ink", text_align="center", text_baseline="middle",
            text_font_size="9px"))
        fig.add_glyph(self.marked, Quad(**edges, fill_alpha=0, line_color="#000000", line_width=4))
        fig.add_glyph(self.marked, Quad(**edges, fill_alpha=0, line_color="colour", line_width=2,
                                        hatch_pattern="hatch", hatch_color="colour", hatch_alpha=0.9,
                                        hatch_scale=10, hatch_weight=1.5))
        fig.add_glyph(self.mark_glyphs, Text(x="x", y="y", text="text", text_color="#000000", text_align="center",
                                             text_baseline="middle", text_font_size="10px",
                                             text_font_style="bold"))
        rows = fig.add_glyph(self.rows, Quad(**edges, fill_alpha=0, line_alpha=0),
                             hover_glyph=Quad(**edges, fill_alpha=0.15, fill_color="#ffffff", line_alpha=1,
                                              line_color="#222222"))
        self._rows_glyph = rows.glyph
        fig.add_glyph(self.selection, Quad(**edges, fill_alpha=0, line_color="#000000", line_width=3))
        fig.add_tools(HoverTool(renderers=[rows], tooltips=[
            ("block", "@name"), ("range", "@range"), ("state", "@state"), ("zone", "@zone"),
            ("plugged", "@plugged"), ("unmovable", "@unmovable"), ("last step", "@mark")]))
        fig.below[0].ticker.desired_num_ticks = 8
        fig.on_event(Tap, self._on_tap)
        return fig

    def __panel__(self):
        return pn.Column(self.caption, self.pane, self.title, self.legend, sizing_mode="stretch_width")

    # ----- updating ---------------------------------------------------------------------
    def update(self) -> None:
        s = self.state
        m = s.machine
        if self.device >= len(m.devices):
            self.device = 0
        nums = BlockNumbers(m, self.device, s.block_marks(self.device))
        per = grid.blocks_per_row(nums.n, self.max_rows)
        shown = grid.fold_rows(view.chunk_cells(m, self.device), per)
        strip = grid.fold_rows(nums.cells, per)[:, None]
        marks = grid.fold_rows(nums.marks, per)[:, None]
        keys = nums.key()
        if self._shown is None or self._shown.shape != shown.shape or self._per != per or self._first != nums.first:
            self._replace(nums, per, shown, strip, marks)
        else:
            self._patch(nums, per, shown, strip, marks, keys)
        self._shown, self._strip, self._marks, self._keys = shown, strip, marks, keys
        self._overlay(per, shown, marks[:, 0])
        d = m.devices[self.device]
        fold = f"; {per} memory blocks per row (zoom in with the mouse wheel)" if per > 1 else ""
        unit = nums.unit
        how = f" ({html.escape(unit.note)})" if unit.note else ""
        self.title.object = (f"<p><b>{html.escape(d.id)}</b>: region {human(d.region_size)} at {d.addr:#x}, "
                             f"{nums.n} memory blocks of {human(nums.mb_size)} x "
                             f"{nums.chunks_per_mb} {'chunks' if unit.note else 'subblocks'} of 2 MiB{how}{fold}</p>")
        self.figure.below[0].axis_label = f"{unit.name if unit.note else '2 MiB subblock'} within the memory block"
        self.legend.object = legend_html(unit.plural)
        self.show_caption()

    def show_caption(self) -> None:
        """One line over the map: the refusal or notice if there is one, else what the last step did."""
        message = self.state.message
        text = message or self.caption_text()
        cls = "vm-caption vm-message" if message else "vm-caption"
        self.caption.object = (f'<div class="{cls}" title="{html.escape(text)}">'
                               f'{"&#9888; " if message else ""}{html.escape(text)}</div>')

    def caption_text(self) -> str:
        """What the last step did, in one line (``core.view.change_caption``)."""
        s = self.state
        sb = s.sandbox
        work = s.session.work
        if work is not None:                 # the whole caption once it is done: it reads every event
            before, now = s.before_metrics(), s.machine.metrics()
            return (f"step {sb.position + 1}: {work.change.label()}: running, {work.steps:,} driver requests "
                    f"so far; plugged {format_size(before.plugged)} -> {format_size(now.plugged)}")
        if sb.entries:
            e = sb.entries[-1]
            lesson = f" (lesson step {e.change.lesson_step})" if e.change.lesson_step else ""
            label = f"step {sb.position}{lesson}: {e.change.label()}"
        else:
            return "boot: nothing asked yet; the map shows the device region as the guest found it"
        return view.change_caption(label, s.last_events, s.before_metrics(), s.machine.metrics())

    def _replace(self, nums: BlockNumbers, per: int, shown: np.ndarray, strip: np.ndarray, marks: np.ndarray) -> None:
        self._per, self._first = per, nums.first
        self._build()
        self._overlays = None
        cols = shown.shape[1]
        height = len(shown) * per
        self.image.data = {"image": [shown], "x": [0], "y": [nums.first], "dw": [cols], "dh": [height]}
        self.strip.data = {"image": [strip], "x": [cols + STRIP_GAP], "y": [nums.first],
                           "dw": [STRIP_WIDTH], "dh": [height]}
        self.marks.data = {"image": [marks], "x": [self.marks_x], "y": [nums.first],
                           "dw": [MARKS_WIDTH], "dh": [height]}
        starts = np.arange(len(shown)) * per
        texts = [nums.row_text(int(s), int(s) + per) for s in starts]
        data = {"left": np.zeros(len(shown)), "right": np.full(len(shown), self.right),
                "bottom": nums.first + starts.astype(float), "top": nums.first + (starts + per).astype(float)}
        data.update({k: [t[k] for t in texts] for k in HOVER_FIELDS})
        self.rows.data = data
        if per == 1 and len(shown) <= GLYPH_ROWS and cols <= GLYPH_COLS:
            r, c = np.divmod(np.arange(shown.size), cols)
            self.glyphs.data = {"x": c + 0.5, "y": nums.first + r + 0.5, "text": self._glyph_text(shown.ravel()),
                                "ink": self._glyph_ink(shown.ravel())}
        self.figure.x_range.update(start=0, end=self.right, bounds=(0, self.right))
        self.figure.y_range.update(start=nums.first + height, end=nums.first, bounds=(nums.first, nums.first + height))
        self._shown = shown
        self._size_figure()
        small = per == 1 and len(shown) <= 128
        self._rows_glyph.update(line_color="#ffffff", line_alpha=0.8 if small else 0.0)
        self._show_selection()
        self.pane.object = self.figure

    @property
    def marks_x(self) -> float:
        return self._shown_cols + STRIP_GAP + STRIP_WIDTH + MARKS_GAP

    @property
    def right(self) -> float:
        return self.marks_x + MARKS_WIDTH

    @property
    def _shown_cols(self) -> int:
        return int(self.image.data["dw"][0]) if self.image.data["dw"] else 0

    @staticmethod
    def _glyph_text(codes: np.ndarray) -> list[str]:
        glyphs = [view.CHUNK_STYLE[c].glyph.strip() for c in view.Chunk]
        return [glyphs[c] for c in codes]

    @staticmethod
    def _glyph_ink(codes: np.ndarray) -> list[str]:
        inks = [ink_for(view.CHUNK_STYLE[c].colour) for c in view.Chunk]
        return [inks[c] for c in codes]

    def _patch(self, nums: BlockNumbers, per: int, shown: np.ndarray, strip: np.ndarray, marks: np.ndarray,
               keys: np.ndarray) -> None:
        image_rows = grid.changed_rows(self._shown, shown)
        cols = shown.shape[1]
        glyphs = len(self.glyphs.data["text"]) > 0
        for a, b in grid.runs(image_rows):
            self.image.patch({"image": [((0, slice(a, b), slice(None)), shown[a:b].ravel())]})
            if glyphs:
                codes = shown[a:b].ravel()
                self.glyphs.patch({"text": [(slice(a * cols, b * cols), self._glyph_text(codes))],
                                   "ink": [(slice(a * cols, b * cols), self._glyph_ink(codes))]})
        for a, b in grid.runs(grid.changed_rows(self._strip, strip)):
            self.strip.patch({"image": [((0, slice(a, b), slice(None)), strip[a:b].ravel())]})
        for a, b in grid.runs(grid.changed_rows(self._marks, marks)):
            self.marks.patch({"image": [((0, slice(a, b), slice(None)), marks[a:b].ravel())]})
        changed = np.unique(grid.changed_rows(self._keys, keys) // per)
        patches: dict[str, list] = {k: [] for k in HOVER_FIELDS}
        for a, b in grid.runs(changed):
            texts = [nums.row_text(r * per, r * per + per) for r in range(a, b)]
            for k in HOVER_FIELDS:
                patches[k].append((slice(a, b), [t[k] for t in texts]))
        if len(changed):
            self.rows.patch(patches)

    def _overlay(self, per: int, shown: np.ndarray, marks: np.ndarray) -> None:
        """Hatch the rows with no memory block and outline the rows the last step marked:
        one quad per run of rows, replaced only when the runs change."""
        absent = row_runs((shown == view.Chunk.ABSENT).all(axis=1).astype(np.int8))
        marked = row_runs(marks)
        if (absent, marked) == self._overlays:
            return
        self._overlays = (absent, marked)
        first, cols = self._first, shown.shape[1]
        self.absent.data = {"left": [0] * len(absent), "right": [cols] * len(absent),
                            "bottom": [first + a * per for a, _b, _v in absent],
                            "top": [first + b * per for _a, b, _v in absent]}
        self.marked.data = {"left": [0] * len(marked), "right": [self.right] * len(marked),
                            "bottom": [first + a * per for a, _b, _v in marked],
                            "top": [first + b * per for _a, b, _v in marked],
                            "colour": [view.MARK_STYLE[view.Mark(v)].colour for _a, _b, v in marked],
                            "hatch": [MARK_HATCH[view.Mark(v)] for _a, _b, v in marked]}
        tall = len(shown) <= 2 * GLYPH_ROWS
        rows = np.flatnonzero(marks) if tall else np.array([], dtype=int)
        self.mark_glyphs.data = {"x": [self.marks_x + MARKS_WIDTH / 2] * len(rows),
                                 "y": [first + (r + 0.5) * per for r in rows],
                                 "text": [view.MARK_STYLE[view.Mark(int(marks[r]))].glyph for r in rows]}

    # ----- presentation mode ---------------------------------------------------------------
    def present(self, on: bool, screen_height: int) -> None:
        """In presentation mode the map takes the window's height (less the status bar, the
        buttons and the caption above it; the lesson is beside it) and its axes use
        projector-sized text."""
        self._present = (on, screen_height)
        self._size_figure()

    def _size_figure(self) -> None:
        on, screen = getattr(self, "_present", (False, 800))
        rows = len(self._shown) if self._shown is not None else 32
        normal = int(min(640, max(260, rows * 12 + 90)))
        self.figure.height = max(screen - 330, 360) if on else normal
        self._glyph_text_renderer.glyph.text_font_size = "12px" if on else "9px"
        size = ("16px", "15px") if on else ("13px", "11px")
        for axis in self.figure.below + self.figure.left:
            axis.update(axis_label_text_font_size=size[0], major_label_text_font_size=size[1])

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
            self.selection.data = {k: [] for k in QUADS}
            return
        self.selection.data = {"left": [0], "right": [self.right], "bottom": [b], "top": [b + 1]}
