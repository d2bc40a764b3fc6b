"""Bokeh plots built from ``bokeh.models`` directly.

``bokeh.plotting.figure`` would be shorter, but importing ``bokeh.plotting`` builds a docstring for
every glyph method: 0.3 s of the static site's cold start in WebAssembly, for four plots.
"""
from __future__ import annotations

from collections.abc import Sequence

from bokeh.models import (BoxZoomTool, DataRange1d, Grid, LinearAxis, PanTool, Plot, Range, ResetTool,
                          SaveTool, VBar, WheelZoomTool)
from bokeh.models.renderers import GlyphRenderer
from bokeh.transform import stack

TOOLS = {
    "pan": PanTool, "box_zoom": BoxZoomTool, "reset": ResetTool, "save": SaveTool,
    "xpan": lambda: PanTool(dimensions="width"), "xwheel_zoom": lambda: WheelZoomTool(dimensions="width"),
}


def plot(*, height: int, tools: str, x_label: str, y_label: str, x_range: Range | None = None,
         y_range: Range | None = None, grid: str = "xy", **kw) -> Plot:
    """A plot as ``figure`` makes it: linear axes below and left, ``grid`` lines for the named
    dimensions, ``tools`` (comma-separated names) in a toolbar on the right, no Bokeh logo."""
    p = Plot(height=height, sizing_mode="stretch_width", x_range=x_range or DataRange1d(),
             y_range=y_range or DataRange1d(), toolbar_location="right", **kw)
    p.add_tools(*(TOOLS[name]() for name in tools.split(",")))
    xaxis, yaxis = LinearAxis(axis_label=x_label), LinearAxis(axis_label=y_label)
    p.add_layout(xaxis, "below")
    p.add_layout(yaxis, "left")
    if "x" in grid:
        p.add_layout(Grid(dimension=0, ticker=xaxis.ticker))
    if "y" in grid:
        p.add_layout(Grid(dimension=1, ticker=yaxis.ticker))
    p.toolbar.logo = None
    return p


def vbar_stack(p: Plot, source, fields: Sequence[str], colours: Sequence[str], **kw) -> list[GlyphRenderer]:
    """One bar per field, each on top of the previous ones (``figure.vbar_stack``)."""
    return [p.add_glyph(source, VBar(bottom=stack(*fields[:i]), top=stack(*fields[:i + 1]), fill_color=c,
                                     line_color=c, **kw))
            for i, c in enumerate(colours)]
