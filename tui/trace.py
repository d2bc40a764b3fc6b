"""The trace export: the same replayable JSON as ``vmemlab run --trace`` and the web page.

``vmemlab replay FILE`` replays it on a fresh machine and proves the result identical. An
export never overwrites an earlier file: a taken name gets ``-2``, ``-3``...
"""
from __future__ import annotations

import json
from pathlib import Path

from vmemlab.core import trace_io
from vmemlab.core.session import Session

from .recovery import write_new


def write_trace(session: Session, directory: Path, stem: str) -> Path:
    data = trace_io.session_trace(session)
    return write_new(Path(directory), stem, ".json", json.dumps(data, indent=1, default=int) + "\n")
