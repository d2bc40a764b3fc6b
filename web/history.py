"""History image: x = step (actions applied), y = memory block, colour = block state.

The page records each memory block's state (``core.view.block_cells``) at every position of the
timeline it shows; positions it never showed (the settle inside a lesson step) repeat the
column before them. The record is keyed by the actions of the timeline, so undo, redo and
scrubbing keep it and a new action after an undo drops what it replaced. The image has spare
columns, so a new step patches one column instead of resending the picture. Tap a column to
go to that step.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, HoverTool, Image, Quad, Range1d, Span

from vmemlab.core import view
from vmemlab.core.actions import Action

from . import grid
from .base import View
from .plot import plot
from .region_map import cell_mapper
from .state import SandboxState

COLUMN_CHUNK = 64          # spare columns are added this many at a time
NO_DATA = 255              # spare columns: drawn transparent


def timeline(state: SandboxState) -> list[Action]:
    """Every action of the timeline: applied ones, then those redo would bring back."""
    return state.sandbox.actions() + [c.action for c in reversed(state.sandbox.redo_stack)]


class HistoryImage(View):
    def __init__(self, state: SandboxState, device: int = 0, max_rows: int = grid.MAX_ROWS, **params):
        self.device = device
        self.max_rows = max_rows
        self._actions: list[Action] = []
        self._columns: dict[int, np.ndarray] = {}
        self._shown: np.ndarray | None = None
        self.image = ColumnDataSource(data={"image": [], "x": [], "y": [], "dw": [], "dh": []}, name="vm-history-image")
        self.steps = ColumnDataSource(data={"left": [], "right": [], "step": [], "action": []})
        self.cursor = Span(location=0, dimension="height", line_color="#000000", line_width=2, line_dash="dashed")
        self.figure = self._figure()
        super().__init__(state, **params)
        self.update()

    def _figure(self):
        fig = plot(height=300, x_range=Range1d(-0.5, COLUMN_CHUNK), y_range=Range1d(1, 0),
                   tools="xpan,xwheel_zoom,reset,save", grid="", min_border_left=60,
                   x_label="step: actions applied (dashed line = now; tap a column to go there)",
                   y_label="memory block")
        mapper = cell_mapper()
        mapper.high_color = "rgba(0, 0, 0, 0)"
        fig.add_glyph(self.image, Image(image="image", x=-0.5, y="y", dw="dw", dh="dh", color_mapper=mapper))
        cols = fig.add_glyph(self.steps, Quad(left="left", right="right", bottom=0, top=0, fill_alpha=0, line_alpha=0))
        fig.add_tools(HoverTool(renderers=[cols], tooltips=[("step", "@step"), ("action", "@action")], mode="vline"))
        fig.add_layout(self.cursor)
        fig.on_event(Tap, self._on_tap)
        self._steps_glyph = cols.glyph
        return fig

    def __panel__(self):
        return pn.pane.Bokeh(self.figure, sizing_mode="stretch_width")

    def _record(self, actions: list[Action]) -> None:
        """Drop columns of a replaced future, then record the current position."""
        keep = 0
        for old, new in zip(self._actions, actions):
            if old != new:
                break
            keep += 1
        if keep < len(self._actions) or len(actions) < len(self._actions):
            self._columns = {k: v for k, v in self._columns.items() if k <= keep}
        self._actions = actions
        m = self.state.machine
        per = grid.blocks_per_row(m.drivers[self.device].n_mb, self.max_rows)
        self._columns[self.state.sandbox.position] = grid.fold_rows(view.block_cells(m, self.device), per)

    def _picture(self, n_cols: int, n_rows: int) -> np.ndarray:
        """(rows, capacity) with unknown columns filled from the column before them."""
        capacity = -(-max(n_cols, 1) // COLUMN_CHUNK) * COLUMN_CHUNK
        pic = np.full((n_rows, capacity), NO_DATA, dtype=np.uint8)
        known = sorted(k for k in self._columns if k < n_cols)
        for i, k in enumerate(known):
            stop = known[i + 1] if i + 1 < len(known) else n_cols
            pic[:, k:stop] = self._columns[k][:, None]
        return pic

    def update(self) -> None:
        m = self.state.machine
        drv = m.drivers[min(self.device, len(m.drivers) - 1)]
        actions = timeline(self.state)
        self._record(actions)
        first = int(m.mem.mb_phys[drv.mb_off])
        per = grid.blocks_per_row(drv.n_mb, self.max_rows)
        n_cols = len(actions) + 1
        pic = self._picture(n_cols, len(self._columns[self.state.sandbox.position]))
        if self._shown is None or self._shown.shape != pic.shape or self._first != first:
            self._first = first
            height = pic.shape[0] * per
            self.image.data = {"image": [pic], "y": [first], "dw": [pic.shape[1]], "dh": [height]}
            self.figure.y_range.update(start=first + height, end=first, bounds=(first, first + height))
            self._steps_glyph.update(bottom=first, top=first + height)
        else:
            changed = np.flatnonzero((self._shown != pic).any(axis=0))
            for a, b in grid.runs(changed):
                self.image.patch({"image": [((0, slice(None), slice(a, b)), pic[:, a:b].ravel())]})
        self._shown = pic
        labels = ["start"] + [a.label() for a in actions]
        if self.steps.data["action"] != labels:
            self.steps.data = {"left": np.arange(n_cols) - 0.5, "right": np.arange(n_cols) + 0.5,
                               "step": list(range(n_cols)), "action": labels}
        self.figure.x_range.update(start=-0.5, end=max(n_cols, 8) - 0.5, bounds=(-0.5, pic.shape[1] - 0.5))
        self.cursor.location = self.state.sandbox.position

    def _on_tap(self, event) -> None:
        if event.x is not None:
            self.state.scrub(min(max(0, math.floor(event.x + 0.5)), self.state.timeline_length))
