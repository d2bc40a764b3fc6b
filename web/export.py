"""Downloads: the trace (scenario config + applied actions, JSON) and the metrics (CSV).

The trace has the layout of ``tui/trace.py`` (``machine``, ``device``, ``step`` as in a scenario
file), so a trace saved from either view replays with ``core.actions.from_dict`` on a Sandbox of
the same config. Pure functions returning text: no file writes, so they also run in Pyodide.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from vmemlab.core.scenario import SIZE_FIELDS
from vmemlab.core.session import Session
from vmemlab.core.units import format_size

METRIC_FIELDS = ("step", "action", "time", "requested", "plugged", "usable", "MemTotal", "MemFree",
                 "memmap", "free_2m_chunks")


def _plain(table: dict) -> dict:
    return {k: format_size(v) if k in SIZE_FIELDS and isinstance(v, int) else v
            for k, v in table.items() if v is not None}


def trace_dict(session: Session) -> dict:
    sc = session.scenario
    machine = asdict(sc.config)
    devices = machine.pop("devices")
    return {"title": sc.title, "source": sc.source, "machine": _plain(machine),
            "device": [_plain(d) for d in devices], "step": [a.to_dict() for a in session.sandbox.actions()]}


def trace_json(session: Session) -> str:
    return json.dumps(trace_dict(session), indent=1) + "\n"


def metrics_csv(session: Session) -> str:
    """One row per position of the timeline (0 = boot): sizes in bytes, blocks per state."""
    sb = session.sandbox
    history = sb.metrics_history()
    labels = ["boot"] + [a.label() for a in sb.actions()]
    states = sorted({k for h in history for k in h.blocks})
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(METRIC_FIELDS) + [f"blocks_{s}" for s in states])
    for i, (h, label) in enumerate(zip(history, labels)):
        w.writerow([i, label, f"{h.time:.6f}", h.requested, h.plugged, h.usable, h.mem_total, h.mem_free,
                    h.memmap, h.free_2m_chunks] + [h.blocks.get(s, 0) for s in states])
    return out.getvalue()

