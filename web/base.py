"""The base of every view: it holds the SandboxState and renders; it keeps no model state."""
from __future__ import annotations

from typing import Callable

import panel as pn
import param
from panel.io import unlocked

from .markup import html_pane
from .state import SandboxState


def on_change(state: SandboxState, render: Callable[[], None], *names: str) -> None:
    """Call ``render`` after the state's ``names`` change.

    Panel runs widget callbacks without the Bokeh document lock; ``unlocked`` sends the Bokeh
    changes they make (ColumnDataSource patches included) straight to the browser. Outside a
    server (tests, Pyodide) it simply runs the body.
    """
    def run(_event) -> None:
        with unlocked():
            render()
    state.param.watch(run, list(names))


class View(pn.viewable.Viewer):
    """A view of one SandboxState; subclasses build their widgets once and update on ``version``.

    A view in a hidden tab skips its updates (nothing is computed or sent for it) and catches up
    when its tab is shown (``set_shown``); one created hidden (``shown=False``) does its first
    render then, which keeps the page's start quick.
    """

    state = param.ClassSelector(class_=SandboxState, doc="the page's state object")

    def __init__(self, state: SandboxState, shown: bool = True, **params):
        super().__init__(state=state, **params)
        self._visible = shown
        self._stale = not shown
        on_change(state, self.refresh, "version")

    def refresh(self) -> None:
        if self._visible:
            self.update()
        else:
            self._stale = True

    def set_shown(self, shown: bool) -> None:
        self._visible = shown
        if shown and self._stale:
            self._stale = False
            with unlocked():
                self.update()

    def update(self) -> None:
        """Re-render from the state; called after every change of the model."""


class HtmlView(View):
    """A view that renders one HTML pane; subclasses write ``self.pane.object`` in ``update``."""

    pane_classes: tuple[str, ...] = ()

    def __init__(self, state: SandboxState, **params):
        self.pane = html_pane(css_classes=list(self.pane_classes))
        super().__init__(state, **params)
        self.refresh()

    def __panel__(self):
        return self.pane
