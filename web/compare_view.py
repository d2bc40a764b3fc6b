"""The Compare tab: this session's steps replayed through virtio-mem, a balloon and DIMMs.

Pictures first: each technique's guest memory (low addresses at the top) after every step,
three small maps side by side with the same steps on x, so "the balloon spreads over all of
memory" or "the DIMM cannot go" is seen before it is read. The tables below are
``core.compare.tables`` (the command line prints the same); their rows use the page's one
numbering (step k = timeline position k). Replaying three VMs costs more than one action, so
the comparison is built when asked for and marked as out of date when the sandbox changes.
"""
from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Image, LinearColorMapper, Range1d, Title

from vmemlab.core import view
from vmemlab.core.compare import tables

from .base import View
from .markup import html_pane
from .plot import plot
from .state import SandboxState
from .widgets import FlexRow

MODELS = (("virtio_mem", "virtio-mem"), ("balloon", "virtio-balloon"), ("dimm", "ACPI DIMM hotplug"))


def table_html(table: tables.Table, caption: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
    body = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>"
                                    for i, c in enumerate(row)) + "</tr>" for row in table[1:])
    return f'<table class="vm-kv vm-compare"><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>'


def legend_html() -> str:
    items = "".join(f'<span class="vm-swatch"><i style="background:{s.colour}"></i>{html.escape(s.label)}</span>'
                    for s in view.GUEST_STYLE.values())
    return f'<div class="vm-legend"><b>guest memory</b> {items}</div>'


def memory_map(picture: np.ndarray, title: str):
    """One technique's guest memory over the steps (x) as a small image."""
    rows, steps = picture.shape
    fig = plot(height=220, tools="save", grid="", x_range=Range1d(-0.5, steps - 0.5), y_range=Range1d(rows, 0),
               x_label="step", y_label="guest memory (low to high)", title=Title(text=title),
               min_border_left=40, name=f"vm-compare-{title}")
    mapper = LinearColorMapper(palette=[s.colour for s in view.GUEST_STYLE.values()], low=0, high=len(view.Guest))
    source = ColumnDataSource(data={"image": [picture]}, name=f"vm-compare-image-{title}")
    fig.add_glyph(source, Image(image="image", x=-0.5, y=0, dw=steps, dh=rows, color_mapper=mapper))
    fig.left[0].major_label_text_font_size = "0px"
    fig.left[0].major_tick_line_color = None
    fig.outline_line_color = "#999999"
    return fig


class CompareView(View):
    """virtio-mem next to virtio-balloon and ACPI DIMM hotplug for what this tab did so far."""

    def __init__(self, state: SandboxState, **params):
        self.button = pn.widgets.Button(label="Compare this run", color="primary", width=180,
                                        css_classes=["vm-compare-button"])
        self.pictures = FlexRow(align_items="flex-start")
        self.pane = html_pane('<p class="vm-hint">Replays every step of this tab through a balloon VM and a '
                              "DIMM VM with the same workload and seed.</p>")
        self.button.on_click(lambda _e: self.show())
        super().__init__(state, **params)

    def __panel__(self):
        return pn.Column(self.button, self.pictures, self.pane, sizing_mode="stretch_width")

    def show(self) -> None:
        c, pictures = view.compare_maps(self.state.session)
        self.pictures.objects = [pn.pane.Bokeh(memory_map(pictures[m], title), styles={"flex": "1 1 260px"},
                                               sizing_mode="stretch_width") for m, title in MODELS]
        parts = [legend_html(), table_html(tables.summary_table(c), "the whole run")]
        resized = [r for r in c.rows if any(m.outcome != "-" for m in r.models.values())]
        if resized:
            row = resized[-1]
            caption = f"last resize: step {row.step} of this session ({row.action})"
            parts.append(table_html(tables.step_table(row), caption))
            parts += [f'<p class="vm-hint">{html.escape(line)}</p>' for line in tables.step_details(row)]
        else:
            parts.append('<p class="vm-hint">No resize yet: change the requested size first.</p>')
        self.pane.object = "".join(parts)

    def update(self) -> None:
        if "out of date" not in self.pane.object and "<table" in self.pane.object:
            self.pane.object = ('<p class="vm-hint">The sandbox changed: press <b>Compare this run</b> '
                                "again (out of date below).</p>") + self.pane.object
