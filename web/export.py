"""Downloads: the trace (JSON) and the metrics (CSV), in the formats of ``vmemlab run``.

Both come from ``core.trace_io``, so a trace saved in the browser replays with
``vmemlab replay`` and matches ``vmemlab run FILE --trace``. Pure functions returning text: no
file writes, so they also run in Pyodide.
"""
from __future__ import annotations

import json

from vmemlab.core import trace_io
from vmemlab.core.session import Session


def trace_json(session: Session) -> str:
    sc = session.scenario
    data = trace_io.trace(session.sandbox, sc.title, sc.source, session.marks)
    return json.dumps(data, indent=1, default=int) + "\n"


def metrics_csv(session: Session) -> str:
    """One row per position of the timeline (0 = boot)."""
    sb = session.sandbox
    labels = ["boot"] + [a.label() for a in sb.actions()]
    return trace_io.metrics_rows(list(zip(range(len(labels)), labels, sb.metrics_history())))
