"""Where long work gets its slices: the page's own event loop.

``SandboxState`` runs a long settle one slice at a time and asks a scheduler to call it again.
Under ``vmemlab serve`` the next slice is a Bokeh timeout callback of this tab's document: the
server's one event loop serves every other tab's messages (and this tab's Cancel) between two
slices. In Pyodide it is an asyncio callback, which the browser runs from its own event loop,
so the worker reads the page's messages between slices and the page is never "unresponsive".
Outside a page (tests, scripts) there is no scheduler and the work runs at once.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import panel as pn

PAUSE_MS = 5        # between two slices: lets the event loop serve everyone else

Scheduler = Callable[[Callable[[], bool]], None]


def page_scheduler() -> Scheduler | None:
    """A scheduler for the page being built now, or None outside a page."""
    if sys.platform == "emscripten":
        return _asyncio_scheduler
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return None

    def schedule(pump: Callable[[], bool]) -> None:
        def run() -> None:
            if pump():
                doc.add_timeout_callback(run, PAUSE_MS)
        doc.add_timeout_callback(run, PAUSE_MS)
    return schedule


def _asyncio_scheduler(pump: Callable[[], bool]) -> None:
    loop = asyncio.get_event_loop()

    def run() -> None:
        if pump():
            loop.call_later(PAUSE_MS / 1000, run)
    loop.call_later(PAUSE_MS / 1000, run)
