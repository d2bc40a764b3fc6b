"""Hook for the comparison view of issue 5 (balloon / DIMM / virtio-mem side by side).

The comparison model is being built in ``vmemlab.core.compare``. Once it lands, its terminal view
goes into ``vmemlab.tui.compare_view`` as ``CompareScreen(session)``; ``c`` opens it. Until then
``c`` explains that it is not available. This module is the only place the app touches for it.
"""
from __future__ import annotations

import importlib

from textual.screen import Screen

from vmemlab.core.session import Session

NOT_YET = "the comparison view (balloon / DIMM side by side, issue 5) is not available yet"


def compare_screen(session: Session) -> Screen | None:
    """The comparison screen for the session, or None while core.compare or its view is missing."""
    try:
        importlib.import_module("vmemlab.core.compare")
        view = importlib.import_module("vmemlab.tui.compare_view")
    except ImportError:
        return None
    return view.CompareScreen(session)
