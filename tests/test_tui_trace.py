"""The terminal UI's trace export is the common trace format and replays identically."""
from __future__ import annotations

import json

from vmemlab.core import trace_io
from vmemlab.core.scenario import default
from vmemlab.core.session import Session
from vmemlab.tui.trace import write_trace


def test_trace_replays_to_the_same_state(tmp_path):
    s = Session(default())
    s.play_lesson_step()
    s.do("grow")
    s.do("step")
    s.do("fragment", percent=2)
    path = write_trace(s, tmp_path, "t")
    assert path == tmp_path / "t.json"
    data = json.loads(path.read_text())
    assert [d["action"] for d in data["actions"]] == ["request", "grow", "step", "fragment"]
    assert data["actions"][0]["settle"] is True and data["actions"][0]["lesson_step"] == 1
    assert data["title"] == "A tour of virtio-mem" and data["step_positions"] == [0]
    result = trace_io.replay(trace_io.load_trace(path))
    assert result.identical and result.sandbox.machine.metrics() == s.machine.metrics()


def test_a_trace_export_never_overwrites_an_earlier_one(tmp_path):
    s = Session(default())
    first = write_trace(s, tmp_path, "t")
    s.do("grow")
    second = write_trace(s, tmp_path, "t")
    assert (first.name, second.name) == ("t.json", "t-2.json")
    assert json.loads(first.read_text())["actions"] == [] and len(json.loads(second.read_text())["actions"]) == 1
