"""The trace export: the same replayable JSON as ``vmemlab run --trace`` and the web page.

``vmemlab replay FILE`` replays it on a fresh machine and proves the result identical.
"""
from __future__ import annotations

from pathlib import Path

from vmemlab.core import trace_io
from vmemlab.core.session import Session


def write_trace(session: Session, path: Path) -> Path:
    trace_io.write_trace(path, trace_io.session_trace(session))
    return path
