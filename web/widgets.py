"""Widgets whose browser side always agrees with the model.

A Panel slider reports a drag through ``value_throttled``, and Bokeh sends a drag only when it
differs from what the browser believes ``value_throttled`` is. Panel never sends
``value_throttled`` to the browser, so after the model moved a slider (a lesson step, undo, a
typed size) the browser still believed the last drag's value: dragging back to it (to 0, the
gesture a teacher uses most) sent nothing. ``ModelSlider.show`` sets both values, in Python and
in the browser, without calling the slider's own watchers.
"""
from __future__ import annotations

from typing import Callable

import panel as pn
import param


class ModelSlider(pn.widgets.IntSlider):
    """An IntSlider that shows a model value and reports the user's drags (``on_drag``)."""

    def __init__(self, **params):
        super().__init__(**params)
        self._showing = False
        self._on_drag: list[Callable[[int], None]] = []
        self.param.watch(self._dragged, "value_throttled")

    def on_drag(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(value)`` when the user releases the handle (never for ``show``)."""
        self._on_drag.append(callback)

    def _dragged(self, event) -> None:
        if not self._showing and event.new is not None:
            for cb in self._on_drag:
                cb(int(event.new))

    def show(self, value: int, **params) -> None:
        """Show the model's ``value`` (and other params: start, end, label...)."""
        self._showing = True
        try:
            with param.edit_constant(self):
                self.param.update(value=value, value_throttled=value, **params)
        finally:
            self._showing = False

    def _update_model(self, events, msg, root, model, doc, comm) -> None:
        # Panel never sends value_throttled (it is read-only in Bokeh); send it anyway, so the
        # browser's idea of the last released value is the model's.
        super()._update_model(events, msg, root, model, doc, comm)
        throttled = events.get("value_throttled")
        if throttled is not None and throttled.new is not None and model.value_throttled != throttled.new:
            ref = root.ref["id"]
            self._changing.setdefault(ref, []).append("value_throttled")   # not an echo from the browser
            model.lookup("value_throttled").set_from_json(model, throttled.new)
            if "value_throttled" in self._changing.get(ref, []):
                self._changing[ref].remove("value_throttled")


def FlexRow(*objects, align_items: str = "flex-end", styles: dict | None = None, **params) -> pn.Row:
    """A row of controls that wraps onto the next line when its column is narrow: a tablet or a
    zoomed browser never scrolls sideways and no control lands under another.

    A Bokeh Row laid out by CSS, told to wrap (Panel's FlexBox would do, but it is a
    ReactiveHTML component: those need the nh3 sanitizer, which the static site does not ship)."""
    params.setdefault("sizing_mode", "stretch_width")
    css = {"flex-wrap": "wrap", "align-items": align_items, "min-width": "0px", **(styles or {})}
    return pn.Row(*objects, styles=css, **params)
