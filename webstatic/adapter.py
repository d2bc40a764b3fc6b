"""The one place the browser build differs from ``vmemlab serve``: where the URL query comes from.

The page runs the same ``create_app`` as the server. Under Pyodide the app lives in a web worker,
and the page appends its ``?scenario=&step=`` to the worker's URL (templates/handler.js).
"""
from __future__ import annotations

import sys
from urllib.parse import parse_qs


def page_query() -> dict[str, list[str]]:
    """The page's URL parameters in the browser; none at build time (the pre-rendered page)."""
    if sys.platform != "emscripten":
        return {}
    from js import location  # the worker's own URL
    return parse_qs(str(location.search).lstrip("?"))


def servable() -> None:
    """Build the app for this page and mark it servable, as ``panel convert`` expects."""
    from vmemlab.web.app import TITLE, create_app

    create_app(query=page_query()).servable(title=TITLE)
