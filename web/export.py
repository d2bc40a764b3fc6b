"""Downloads: the trace (JSON) and the metrics (CSV), in the formats of ``vmemlab run``.

Both come from ``core.trace_io``, so a trace saved in the browser replays with
``vmemlab replay`` and matches ``vmemlab run FILE --trace`` and the terminal UI's export.
Pure functions returning text: no file writes, so they also run in Pyodide.
"""
from __future__ import annotations

import json

from vmemlab.core import trace_io
from vmemlab.core.session import Session


def trace_json(session: Session) -> str:
    return json.dumps(trace_io.session_trace(session), indent=1, default=int) + "\n"


def metrics_csv(session: Session) -> str:
    return trace_io.session_metrics_csv(session)
