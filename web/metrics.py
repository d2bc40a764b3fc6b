"""Metrics plots from ``sandbox.metrics_history()``: sizes over simulated time, blocks per state,
memmap bytes. One row per position of the timeline (0 = boot); new steps are streamed, any
other change (undo, scrub, load) replaces the columns."""
from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Legend, Span, Step, Title

from vmemlab.core import view
from vmemlab.core.machine import Metrics
from vmemlab.core.units import GiB, MiB

from .base import View
from .plot import plot, vbar_stack
from .state import SandboxState

SIZES = (("requested", "requested_size", "#cc79a7"), ("plugged", "plugged_size", "#0072b2"),
         ("usable", "usable_region_size", "#999999"), ("mem_total", "MemTotal", "#d55e00"))
FALLBACK_COLOURS = ("#009e73", "#f0e442", "#332288", "#882255")


def state_colour(name: str, k: int) -> str:
    """A block-state name from Metrics.blocks -> the colour the region map strip uses."""
    try:
        return view.CELL_STYLE[view.Cell[name]].colour
    except KeyError:
        return FALLBACK_COLOURS[k % len(FALLBACK_COLOURS)]


def columns(history: list[Metrics], states: list[str]) -> dict[str, np.ndarray]:
    """The plots' data: sizes in GiB, memmap in MiB, one column per block state."""
    data = {"step": np.arange(len(history)), "time": np.array([h.time for h in history])}
    for key, _label, _colour in SIZES:
        attr = "mem_total" if key == "mem_total" else key
        data[key] = np.array([getattr(h, attr) for h in history], dtype=float) / GiB
    data["memmap"] = np.array([h.memmap for h in history], dtype=float) / MiB
    for name in states:
        data[f"blocks_{name}"] = np.array([h.blocks.get(name, 0) for h in history])
    return data


class MetricsPlots(View):
    def __init__(self, state: SandboxState, **params):
        self.source = ColumnDataSource(data=columns([], []), name="vm-metrics")
        self._states: list[str] | None = None
        self._shown: dict[str, np.ndarray] = {}
        self.now = Span(location=0, dimension="height", line_color="#000000", line_dash="dashed")
        self.layout = pn.Column(sizing_mode="stretch_width")
        self.blocks_pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        super().__init__(state, **params)
        self.refresh()

    def _build(self) -> None:
        """The figures, made on the first render (their Bokeh models cost ~0.1 s each in Pyodide)."""
        self.sizes = self._sizes_figure()
        self.memmap = self._memmap_figure()
        self.layout.objects = [pn.pane.Bokeh(self.sizes, sizing_mode="stretch_width"), self.blocks_pane,
                               pn.pane.Bokeh(self.memmap, sizing_mode="stretch_width")]

    def _sizes_figure(self):
        fig = plot(height=260, tools="xpan,xwheel_zoom,reset,save", x_label="simulated time (s)", y_label="GiB",
                   title=Title(text="sizes over simulated time"))
        items = []
        for key, label, colour in SIZES:
            r = fig.add_glyph(self.source, Step(x="time", y=key, mode="after", line_width=2, line_color=colour,
                                                line_dash="dotted" if key == "usable" else "solid"))
            items.append((label, [r]))
        fig.add_layout(Legend(items=items, location="top_left", orientation="horizontal", background_fill_alpha=0.7), "above")
        fig.add_tools(HoverTool(tooltips=[("step", "@step"), ("t", "@time{0.000} s"), ("requested", "@requested{0.00} GiB"),
                                          ("plugged", "@plugged{0.00} GiB"), ("usable", "@usable{0.00} GiB"),
                                          ("MemTotal", "@mem_total{0.00} GiB")], mode="vline"))
        return fig

    def _memmap_figure(self):
        fig = plot(height=200, tools="xpan,xwheel_zoom,reset,save", x_label="step", y_label="MiB",
                   title=Title(text="memmap of hot-added memory (64 B per 4 KiB page)"))
        fig.add_glyph(self.source, Step(x="step", y="memmap", mode="after", line_width=2, line_color="#009e73"))
        fig.add_tools(HoverTool(tooltips=[("step", "@step"), ("memmap", "@memmap{0.0} MiB")], mode="vline"))
        fig.add_layout(self.now)
        return fig

    def _blocks_figure(self, states: list[str]):
        fig = plot(height=220, tools="xpan,xwheel_zoom,reset,save", x_label="step", y_label="memory blocks",
                   title=Title(text="device memory blocks per state"))
        if states:
            bars = vbar_stack(fig, self.source, [f"blocks_{s}" for s in states],
                              [state_colour(s, k) for k, s in enumerate(states)], x="step", width=0.9)
            fig.add_layout(Legend(items=[(s.lower().replace("_", " "), [r]) for s, r in zip(states, bars)],
                                  location="top_left", orientation="horizontal", background_fill_alpha=0.7))
        self.blocks_now = Span(location=self.now.location, dimension="height", line_color="#000000",
                               line_dash="dashed")
        fig.add_layout(self.blocks_now)
        return fig

    def __panel__(self):
        return self.layout

    def update(self) -> None:
        if not self.layout.objects:
            self._build()
        history = self.state.sandbox.metrics_history()
        states = sorted({k for h in history for k in h.blocks}, key=lambda s: (s not in view.Cell.__members__, s))
        data = columns(history, states)
        if states != self._states:
            self._states = states
            self.source.data = data
            self.blocks_pane.object = self._blocks_figure(states)
        else:
            self._send(data)
        self._shown = data
        self.now.location = self.blocks_now.location = len(history) - 1

    def _send(self, data: dict[str, np.ndarray]) -> None:
        """Stream the new rows if the old ones are unchanged, else replace everything."""
        old = self._shown
        n_old = len(old.get("step", ()))
        n = len(data["step"])
        if n > n_old and all(np.array_equal(old[k], v[:n_old]) for k, v in data.items()):
            self.source.stream({k: v[n_old:] for k, v in data.items()})
        elif n != n_old or any(not np.array_equal(old[k], v) for k, v in data.items()):
            self.source.data = data
