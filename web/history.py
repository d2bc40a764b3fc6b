"""History image: x = step (timeline position), y = memory block, colour = block state.

The page records each memory block's state (``core.view.block_cells``) at every position of the
timeline it passes, shown or not (``SandboxState.position_listeners``: a redo on the way to a
scrub target, a link's replay). A position it never passed (one that a jump back in time
replayed inside the core) is drawn grey, "not recorded", never as a copy of another one. The
record is keyed by the changes of the timeline, so undo, redo and scrubbing keep it and a new
action after an undo drops what it replaced. The image has spare columns, so a new step
patches one column instead of resending the picture. Tap a column to go to that step.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, HoverTool, Image, Quad, Range1d, Span

from vmemlab.core import view
from vmemlab.core.sandbox import Change

from . import grid
from .base import View
from .plot import plot
from .region_map import cell_mapper
from .state import SandboxState

COLUMN_CHUNK = 64          # spare columns are added this many at a time
NO_DATA = 254              # a position this page did not pass: drawn grey
SPARE = 255                # spare columns: drawn transparent
NOT_RECORDED = "#d0d0d0"


def timeline(state: SandboxState) -> list[Change]:
    """Every change of the timeline: applied ones, then those redo would bring back."""
    return state.sandbox.changes() + list(reversed(state.sandbox.redo_stack))


class HistoryImage(View):
    def __init__(self, state: SandboxState, device: int = 0, max_rows: int = grid.MAX_ROWS, **params):
        self.device = device
        self.max_rows = max_rows
        self._actions: list[Change] = []
        self._columns: dict[int, np.ndarray] = {}
        self._shown: np.ndarray | None = None
        self.pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        super().__init__(state, **params)
        state.position_listeners.append(self._passed)
        self.update()

    def _build(self) -> None:
        """Fresh sources and figure for a new shape of picture (see RegionMap._build)."""
        self.image = ColumnDataSource(data={"image": [], "x": [], "y": [], "dw": [], "dh": []}, name="vm-history-image")
        self.steps = ColumnDataSource(data={"left": [], "right": [], "step": [], "action": []})
        self.cursor = Span(location=0, dimension="height", line_color="#000000", line_width=2, line_dash="dashed")
        self.figure = self._figure()

    def _figure(self):
        fig = plot(height=300, x_range=Range1d(-0.5, COLUMN_CHUNK), y_range=Range1d(1, 0),
                   tools="xpan,xwheel_zoom,reset,save", grid="", min_border_left=60,
                   x_label="step (dashed line = now; tap a column to go there; grey = not recorded in this tab)",
                   y_label="memory block")
        mapper = cell_mapper()
        mapper.palette = list(mapper.palette) + [NOT_RECORDED] * (NO_DATA - len(mapper.palette)) + [NOT_RECORDED]
        mapper.high = NO_DATA + 1
        mapper.high_color = "rgba(0, 0, 0, 0)"
        fig.add_glyph(self.image, Image(image="image", x=-0.5, y="y", dw="dw", dh="dh", color_mapper=mapper))
        cols = fig.add_glyph(self.steps, Quad(left="left", right="right", bottom=0, top=0, fill_alpha=0, line_alpha=0))
        fig.add_tools(HoverTool(renderers=[cols], tooltips=[("step", "@step"), ("action", "@action")], mode="vline"))
        fig.add_layout(self.cursor)
        fig.on_event(Tap, self._on_tap)
        self._steps_glyph = cols.glyph
        return fig

    def __panel__(self):
        return self.pane

    def _passed(self) -> None:
        """A position the state passed without showing it: record its column now."""
        self._record(timeline(self.state))

    def _record(self, actions: list) -> None:
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
        """(rows, capacity): recorded columns, NO_DATA where a position was not recorded."""
        capacity = -(-max(n_cols, 1) // COLUMN_CHUNK) * COLUMN_CHUNK
        pic = np.full((n_rows, capacity), SPARE, dtype=np.uint8)
        pic[:, :n_cols] = NO_DATA
        for k, column in self._columns.items():
            if k < n_cols and len(column) == n_rows:
                pic[:, k] = column
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
            self._build()
            self.pane.object = self.figure
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
