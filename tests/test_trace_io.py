"""Traces replay exactly; a changed trace is caught; metrics CSV has one row per step."""
import csv
import io
import json

import pytest

from vmemlab.core import expect, trace_io
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import builtin
from vmemlab.core.units import GiB


def played(name: str = "06_zone_normal_stuck.toml"):
    sc = builtin(name)
    graded = list(expect.check_run(sc))
    return sc, graded[-1].sandbox, graded


def test_config_round_trip_keeps_every_field():
    cfg = MachineConfig(arch="arm64", boot_memory=2 * GiB, nodes=2, online_policy="auto-movable",
                        devices=(DeviceConfig(id="a", node=1, region_size=8 * GiB, requested_size=GiB, addr=16 * GiB),))
    data = trace_io.config_to_dict(cfg)
    assert data["boot_memory"] == "2G" and data["devices"][0]["addr"] == "16G"
    assert trace_io.config_from_dict(json.loads(json.dumps(data))) == cfg


def test_replay_of_a_lesson_is_identical():
    sc, sb, graded = played()
    data = json.loads(json.dumps(trace_io.trace(sb, sc.title, sc.source)))
    result = trace_io.replay(data)
    assert result.identical, result.difference
    assert result.actions == len(sb.actions()) == len(sc.steps)     # a step's settle belongs to it
    assert result.events == len(sb.events) and result.digest == data["events_sha256"]
    assert result.sandbox.machine.metrics() == sb.machine.metrics()


def test_a_changed_trace_is_reported_at_the_first_difference():
    sc, sb, _ = played("07_zone_movable_works.toml")
    data = json.loads(json.dumps(trace_io.trace(sb)))
    data["config"]["seed"] = 99                 # same numbers, other pageblocks: only the events tell
    assert "event log differs" in trace_io.replay(data).difference
    data = json.loads(json.dumps(trace_io.trace(sb)))
    data["actions"][0]["size"] = "2G"
    result = trace_io.replay(data)
    assert not result.identical and result.difference.startswith("action 1 (request size=2G")
    data = json.loads(json.dumps(trace_io.trace(sb)))
    data["events_sha256"] = "0" * 64
    assert "event log differs" in trace_io.replay(data).difference


@pytest.mark.parametrize("text, words", [
    ("{", "not valid JSON"),
    ('{"format": "other"}', "not a vmemlab trace"),
    ('{"format": "vmemlab-trace", "version": 7}', "version 7 is not supported"),
])
def test_bad_trace_files_give_clear_errors(tmp_path, text, words):
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(trace_io.TraceError) as e:
        trace_io.load_trace(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_bad_config_in_a_trace_names_the_field():
    with pytest.raises(trace_io.TraceError) as e:
        trace_io.config_from_dict({"boot_memory": "1G", "colour": 1, "devices": [{}]})
    assert "unknown key 'colour'" in str(e.value)


def test_metrics_csv_one_row_per_step_in_bytes():
    sc, sb, graded = played("01_resizable_dimm.toml")
    rows = [(0, "boot", sb.initial_metrics)] + [(g.result.step.index, g.result.step.action.label(),
                                                  g.state.machine.metrics()) for g in graded]
    table = list(csv.DictReader(io.StringIO(trace_io.metrics_rows(rows))))
    assert len(table) == len(sc.steps) + 1
    assert list(table[0])[:10] == ["step", "action", "time", "requested", "plugged", "usable", "mem_total",
                                   "mem_free", "memmap", "free_2m_chunks"]
    assert table[0]["plugged"] == "0" and table[-1]["plugged"] == "0"
    assert table[-1]["mem_total"] == table[0]["mem_total"] == str(915420 * 1024)
    assert table[-1]["memmap"] == "0" and table[0]["blocks_MOVABLE"] == "0"


def good_trace() -> dict:
    sc, sb, graded = played("01_resizable_dimm.toml")
    return json.loads(json.dumps(trace_io.trace(sb, sc.title, sc.source)))


@pytest.mark.parametrize("change, words", [
    (lambda d: d["config"].update(unplug_online="no"), "config: unplug_online: expected true or false, got 'no'"),
    (lambda d: d["config"].update(force_bbm="yes"), "config: force_bbm: expected true or false, got 'yes'"),
    (lambda d: d["config"].update(nodes="2"), "config: nodes: expected a whole number, got '2'"),
    (lambda d: d["config"].update(seed="abc"), "config: seed: expected a whole number, got 'abc'"),
    (lambda d: d["config"].update(seed=-1), "machine.seed: -1 is not allowed; allowed: 0 to 2^64-1"),
    (lambda d: d["config"].update(arch=7), "config: arch: expected a string, got 7"),
    (lambda d: d["config"]["devices"][0].update(node=True), "config.devices[0]: node: expected a whole number"),
    (lambda d: d["config"]["devices"][0].update(addr=0), "devices[0] (vmem0).addr: 0x0 overlaps boot memory"),
    (lambda d: d["config"]["devices"][0].update(region_size="9" * 5000), "region_size: '9999"),
    (lambda d: d.pop("config"), "field 'config' is missing or not an object"),
    (lambda d: d["config"].pop("devices"), "config: expected an object with a non-empty 'devices' list"),
    (lambda d: d.update(config=[1]), "field 'config' is missing or not an object"),
    (lambda d: d["actions"].__setitem__(0, "request"), "actions[0]: expected an object like"),
    (lambda d: d["actions"].__setitem__(0, {"action": ["request"]}), "actions[0]: action: missing or not a string"),
    (lambda d: d["actions"].__setitem__(0, {"action": "pin", "tries": 300}), "actions[0]: pin.tries: 300 is not allowed"),
    (lambda d: d.update(metrics=[1]), "metrics[0]: expected an object"),
    (lambda d: d.update(title=["x"]), "field 'title' is missing or not a string"),
    (lambda d: d.update(events=True), "field 'events' is missing or not a whole number"),
])
def test_replay_types_every_field_strictly(tmp_path, change, words):
    data = good_trace()
    change(data)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(trace_io.TraceError) as e:
        trace_io.replay(trace_io.load_trace(path))
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("raw, words", [
    (b'{"format": "vmemlab-trace", "title": "caf\xe9"}', "is not UTF-8"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b'{"format": "vmemlab-trace", "version": 1, "n": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"\xef\xbb\xbf{}", "not a vmemlab trace"),
])
def test_unreadable_trace_bytes_give_one_line(tmp_path, raw, words):
    path = tmp_path / "t.json"
    path.write_bytes(raw)
    with pytest.raises(trace_io.TraceError) as e:
        trace_io.load_trace(path)
    assert words in str(e.value) and str(path) in str(e.value)
