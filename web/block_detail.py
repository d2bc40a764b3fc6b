"""Block detail: the selected memory block's subblocks with their pages (``core.view.block_info``)."""
from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem, Range1d, Rect

from vmemlab.core import view
from vmemlab.core.memory import PAGES_PER_CHUNK
from vmemlab.core.units import human

from .base import View, on_change
from .markup import html_pane, table_html
from .plot import plot, vbar_stack
from .state import SandboxState

PAGE_KINDS = ("unmovable", "movable", "free")
PAGE_COLOURS = (view.CHUNK_STYLE[view.Chunk.UNMOVABLE].colour, view.CHUNK_STYLE[view.Chunk.MOVABLE].colour,
                view.CHUNK_STYLE[view.Chunk.FREE].colour)
STRIP_Y = -PAGES_PER_CHUNK * 0.12
EMPTY = {"x": [], "unmovable": [], "movable": [], "free": [], "state": [], "colour": []}


class BlockDetail(View):
    """Pages per 2 MiB chunk (a subblock in Sub Block Mode with 2 MiB blocks) of the selected block, and its sysfs/driver facts."""

    def __init__(self, state: SandboxState, **params):
        self.source = ColumnDataSource(data=dict(EMPTY))
        self.figure = self._figure()
        self.facts = html_pane()
        super().__init__(state, **params)
        on_change(state, self.update, "selected_block")
        self.update()

    def _figure(self):
        fig = plot(height=230, tools="save", grid="y", x_range=Range1d(-0.5, 63.5),
                   y_range=Range1d(STRIP_Y * 1.6, PAGES_PER_CHUNK * 1.02), x_label="subblock", y_label="4 KiB pages")
        bars = vbar_stack(fig, self.source, PAGE_KINDS, PAGE_COLOURS, x="x", width=0.85)
        strip = fig.add_glyph(self.source, Rect(x="x", y=STRIP_Y, width=0.95, height=abs(STRIP_Y) * 0.9,
                                                fill_color="colour", line_color=None))
        fig.add_tools(HoverTool(renderers=[*bars, strip], tooltips=[
            ("2 MiB chunk", "@x"), ("state", "@state"), ("unmovable", "@unmovable"), ("movable", "@movable"),
            ("free", "@free")]))
        fig.add_layout(Legend(items=[LegendItem(label=f"{k} pages", renderers=[r]) for k, r in zip(PAGE_KINDS, bars)],
                              orientation="horizontal"), "above")
        return fig

    def __panel__(self):
        return pn.Column(self.facts, pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def update(self) -> None:
        m = self.state.machine
        where = view.local_block(m, self.state.selected_block) if self.state.selected_block is not None else None
        self.figure.visible = where is not None
        if where is None:
            self.source.data = dict(EMPTY)
            self.facts.object = ('<p class="vm-hint">Tap a memory block in the region map to see its '
                                 f"2 MiB chunks here ({view.free_pages_note(m)}).</p>")
            return
        info = view.block_info(m, *where)
        self.figure.below[0].axis_label = view.map_unit(m, where[0]).name
        self.figure.visible = info["memmap"] > 0          # a block not added has no pages to show
        cells = info["cells"]
        n = len(cells)
        self.figure.x_range.update(start=-0.5, end=n - 0.5)
        self.source.data = {
            "x": np.arange(n), "unmovable": info["unmovable_per_chunk"], "movable": info["movable_per_chunk"],
            "free": info["free_per_chunk"],
            "state": [view.CHUNK_STYLE[view.Chunk(int(c))].label for c in cells],
            "colour": [view.CHUNK_STYLE[view.Chunk(int(c))].colour for c in cells]}
        rows = [("memory block", f"{info['name']} ({info['device']})"), ("range", info["range"]),
                ("driver state", info["driver_state"]), ("sysfs state", info["sysfs_state"]), ("zone", info["zone"]),
                ("plugged", f"{human(info['plugged'])} of {human(info['size'])}"),
                ("memmap", human(info["memmap"])),
                ("pages", f"{info['unmovable_pages']:,} unmovable, {info['movable_pages']:,} movable, "
                          f"{info['free_pages']:,} free")]
        self.facts.object = table_html(rows)
