"""Fuzzing every input a user hands vmemlab: scenario files (generated from the schema, then
broken byte by byte), trace files (vmemlab's own replay format) and command lines.

Every input must end in a clear error (one line, naming the file and the field) or a valid
run: never a traceback. The model-side half (a refused action changes nothing) is in
test_actions.py; URL parameters are in test_web_url.py.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import fields
from importlib import resources

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vmemlab.cli import main
from vmemlab.core import actions as act
from vmemlab.core import expect, trace_io
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import ScenarioError, builtin, lesson_files, load, parse

# VMEMLAB_FUZZ_EXAMPLES=5000 for a longer campaign than the test suite's
EXAMPLES = int(os.environ.get("VMEMLAB_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])


# ----- a tiny TOML writer (inline tables only: enough for any generated document) ------------
def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_document(doc: dict) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in doc.items())


# ----- values from the schema: what each field allows, and what it must refuse --------------
BAD = [-1, 0, 1, 2 ** 64, 10 ** 30, -(10 ** 20), "", "x", "1.5", "9" * 60, "١٢", "²", "-4G", 1.5,
       float("nan"), float("inf"), True, False, [], [1, "a"], {}, {"a": 1}, "\u001b[2J", "4G"]
MACHINE = {   # field: (values it allows, values only this field refuses)
    "arch": (["x86_64", "arm64", "arm64-64k"], ["sparc"]), "boot_memory": (["1G", "2G"], ["1025M", "32T"]),
    "memory_block_size": (["0", "128M", "256M"], ["3M", "4G"]), "nodes": ([1, 2], [9]),
    "auto_online_blocks": (["offline", "online", "online_kernel", "online_movable"], ["sometimes"]),
    "online_policy": (["contig-zones", "auto-movable"], ["random"]), "auto_movable_ratio": ([0, 301], [100001]),
    "auto_movable_numa_aware": ([True, False], ["yes"]), "unplug_online": ([True, False], ["no"]),
    "force_bbm": ([True, False], ["yes"]), "bbm_block_size": (["0", "256M", "1G"], ["3G"]),
    "kernel_reserved": (["116772K", "64M"], ["900M"]), "background_kernel_allocs": ([0, 2], [17]),
    "seed": ([0, 7, 2 ** 64 - 1], [2 ** 64]), "boot_kernel_used": (["38M", "0"], ["2G"]),
    "boot_holes": (["0", "520K"], ["1G"]), "below_4g": (["0", "512M"], ["5G", "100M"]),
    "node_memory": ([["1G"], ["512M", "512M"]], [["1G", "x"], "1G", ["3M", "1021M"]]),
    "transparent_hugepage": ([True, False], ["yes"]), "movable_node": ([True, False], [0]),
}
DEVICE = {
    "id": (["vmem0", "a", "b"], ["9x", "vmem 0"]), "node": ([0, 1], [8]), "region_size": (["4G", "1G", "128M"], ["100M"]),
    "block_size": (["0", "2M", "4M"], ["3M"]), "requested_size": (["0", "512M"], ["5G", "1M"]),
    "addr": (["16G", "32G"], ["0", "17179869184T", "4097M"]),
    "hugetlb_page_size": (["0", "2M", "1G"], ["3M", "32G"]), "prealloc": ([True, False], ["yes"]),
}
assert set(MACHINE) == {f.name for f in fields(MachineConfig)} - {"devices"}
assert set(DEVICE) == {f.name for f in fields(DeviceConfig)}
GOOD_PARAMS = {"size": ["2M", "64M", "256M", "1G", "4K"], "int": [0, 1, 32, 39], "float": [0.5, 1, 30.0, 86400 * 365],
               "bool": [True, False], "str": ["vmem0", "a note"]}
EXPECT = {"plugged_size": ["1G", ">= 0", "-1"], "driver": ["idle", "nope"], "responses": [{"ACK": 1}, {"NOPE": 1}],
          "devices": [{"vmem0": {"plugged_size": "0"}}, {"nope": {"plugged_size": "0"}}],
          "block": [{"id": 32, "zone": "Movable"}, {"zone": "x"}], "event": ["BUSY", [1]],
          "removed": [[39, 38], 2, "x"], "mirror": [{"lsmem": "Total"}, {"nope": "x"}], "time": [">= 1", "later"],
          "compare": [{"balloon": {"host_thp_split": ">= 0"}}, {"nope": {}}], "colour": ["red"],
          "state_answers": [{"MIXED": 1}, {"NOPE": 1}], "request_types": [{"STATE": 2}, {"READ": 1}],
          "sleep": ["refused", "asleep"], "no_mirror": [{"e820": "0x1"}, {"nope": "x"}]}


def rarely(bad, good):
    """``good`` 19 times in 20 (hypothesis favours the ends of a range: 7 is in the middle)."""
    return st.integers(0, 19).flatmap(lambda i: bad if i == 7 else good)


def pick(good: list, bad: tuple = ()):
    """Mostly a value the schema allows, sometimes one it must refuse."""
    if not good:
        return st.sampled_from(BAD + list(bad))
    return rarely(st.sampled_from(BAD + list(bad)), st.sampled_from(good))


def table(schema: dict, size: int = 4):
    return st.lists(st.sampled_from(list(schema)), max_size=size, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: pick(*schema[k]) if isinstance(schema[k], tuple) else pick(schema[k])
                                            for k in keys}))


@st.composite
def steps(draw):
    name = draw(rarely(st.sampled_from(["teleport", 7, ["request"]]), st.sampled_from(list(act.ACTIONS))))
    step = {"action": name}
    if isinstance(name, str) and name in act.ACTIONS:
        for p in act.ACTIONS[name].params:
            if draw(st.booleans()):
                step[p.name] = draw(pick(list(p.choices) if p.kind == "choice" else GOOD_PARAMS.get(p.kind, [])))
    if draw(st.integers(0, 3)) == 2:
        step["expect"] = draw(table(EXPECT, 2))
    for meta, good in (("settle", [True, False]), ("note", ["n"]), ("ask", ["?"])):
        if draw(st.integers(0, 5)) == 3:
            step[meta] = draw(pick(good))
    return step


@st.composite
def scenarios(draw) -> dict:
    doc = {}
    if draw(st.booleans()):
        doc["title"] = draw(pick(["A lab", "Übung \u202e \u001b[2J"]))
    if draw(st.booleans()):
        doc["machine"] = draw(table(MACHINE))
    if draw(st.booleans()):
        devices = draw(st.lists(table(DEVICE, 3), min_size=1, max_size=2))
        for i, d in enumerate(devices):
            d.setdefault("id", f"vmem{i}")
        doc["device"] = draw(rarely(st.just([]), st.just(devices)))
    doc["step"] = draw(st.lists(steps(), max_size=5))
    if draw(rarely(st.just(True), st.just(False))):
        doc[draw(st.sampled_from(["steps", "Machine", ""]))] = 1
    return doc


def small_enough_to_run(sc) -> bool:
    return sc.config.boot_memory <= 4 << 30 and sum(d.region_size for d in sc.config.devices) <= 16 << 30


def clear(error: Exception, source: str) -> None:
    text = str(error)
    assert text.startswith(f"{source}: ") and "\n" not in text and len(text) < 2000, text


@FUZZ
@given(scenarios())
def test_generated_scenarios_load_and_run_or_name_the_problem(doc):
    text = toml_document(doc)
    try:
        sc = parse(text, "fuzz.toml")
    except ScenarioError as e:
        clear(e, "fuzz.toml")
        event("refused")
        return
    if small_enough_to_run(sc):
        event("ran")
        for graded in expect.check_run(sc):           # what `vmemlab run --check` does
            assert all(c.key for c in graded.checks)


def mutations():
    lessons = [resources.files("vmemlab.examples").joinpath(n).read_bytes() for n in lesson_files()[:6]]
    return st.tuples(st.sampled_from(lessons), st.lists(st.tuples(st.integers(0, 5000), st.binary(min_size=0, max_size=4),
                                                                  st.integers(0, 3)), min_size=1, max_size=4),
                     st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]))


@FUZZ
@given(mutations())
def test_scenario_files_broken_byte_by_byte(tmp_path_factory, mutation):
    data, edits, prefix = mutation
    data = bytearray(data)
    for at, new, drop in edits:
        at = min(at, len(data))
        data[at:at + drop] = new
    path = tmp_path_factory.mktemp("fuzz") / "lab.toml"
    path.write_bytes(prefix + bytes(data))
    try:
        sc = load(path)
    except ScenarioError as e:
        clear(e, str(path))
        event("refused")
        return
    if small_enough_to_run(sc):
        event("ran")
        list(expect.check_run(sc))


# ----- trace files -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trace() -> dict:
    sc = builtin("10_migration_busy.toml")
    graded = list(expect.check_run(sc))
    return json.loads(json.dumps(trace_io.trace(graded[-1].sandbox, sc.title, sc.source)))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() |
                           st.text(max_size=12) | st.sampled_from(["1G", "no", "yes", "2", "settle", "request"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)


def paths(data, prefix=()):
    """Every place in a JSON document (as a key path)."""
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data[:4]):
            yield from paths(v, prefix + (i,))


def reach(doc, place):
    """The value at ``place`` in ``doc``, or None where an earlier change removed the way there."""
    for k in place:
        if isinstance(doc, dict) and isinstance(k, str) and k in doc or \
                isinstance(doc, list) and isinstance(k, int) and k < len(doc):
            doc = doc[k]
        else:
            return None
    return doc


@FUZZ
@given(data=st.data())
def test_trace_files_with_wrong_values_replay_or_name_the_field(tmp_path_factory, trace, data):
    doc = json.loads(json.dumps(trace))
    places = [p for p in paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        place = data.draw(st.sampled_from(places))
        parent = reach(doc, place[:-1])
        if isinstance(parent, dict) and data.draw(st.booleans()):
            parent.pop(place[-1], None)
        elif reach(parent, place[-1:]) is not None:
            parent[place[-1]] = data.draw(JSON_VALUES)
    path = tmp_path_factory.mktemp("trace") / "t.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    try:
        result = trace_io.replay(trace_io.load_trace(path))
    except trace_io.TraceError as e:
        assert "\n" not in str(e) and len(str(e)) < 2000, str(e)
        event("refused")
        return
    event("identical" if result.identical else "replayed, different")
    assert result.identical or result.difference


# ----- command lines -----------------------------------------------------------------------------
WORDS = ["0", "1", "-1", "7", "99999999999999999999999", "²", "4G", "99999T", "nope", "LAB", "TRACE", "/",
         "/no/such/file", "FOLDER", "FOLDER/out.json", "\u001b[2J", "--", "-", ""]
OPTIONS = {
    "run": {"--json": None, "--check": None, "--quiz": None, "-v": None, "-s": ["0", "3"],
            "--trace": ["FOLDER/t.json"], "--metrics": ["FOLDER/m.csv"]},
    "show": {"--at": ["0", "1"], "-s": ["0", "5"]},
    "compare": {"--json": None, "-s": ["1"], "--dimm-size": ["0", "128M", "512M"], "--dimm-slots": ["1", "8", "256"],
                "--balloon-placement": ["scattered", "buddy"]},
    "replay": {},
}


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(list(OPTIONS)))
    argv = [command]
    if command == "show":
        argv.append(draw(pick(["lsmem", "meminfo", "all", "qmp"]).map(str)))
    for option in draw(st.lists(st.sampled_from(list(OPTIONS[command]) or ["--json"]), max_size=3, unique=True)):
        argv.append(option)
        good = OPTIONS[command].get(option)
        if good is not None:
            argv.append(draw(pick(good).map(str)))
    file = draw(pick(["TRACE"] if command == "replay" else ["LAB"]).map(str))
    if not (command == "compare" and file == "LAB" and draw(st.booleans())):   # compare defaults to lesson 15
        argv.append(str(file))
    return argv


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_command_lines_exit_0_1_or_2_never_a_traceback(tmp_path_factory, capsys, monkeypatch, trace, argv):
    folder = tmp_path_factory.mktemp("cli")
    lab = folder / "lab.toml"
    lab.write_text('[[step]]\naction = "request"\nsize = "512M"\nexpect = { plugged_size = "512M" }\n')
    trace_file = folder / "t.json"
    trace_file.write_text(json.dumps(trace))
    argv = [a.replace("LAB", str(lab)).replace("TRACE", str(trace_file)).replace("FOLDER", str(folder)) for a in argv]
    monkeypatch.setattr("sys.stdin", io.StringIO("1G\nnone\n"))
    monkeypatch.chdir(folder)                     # "--trace 1.5" writes a file named 1.5: here
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    assert code in (0, 1, 2), argv
    event(f"exit {code}")
    err = capsys.readouterr().err
    assert "Traceback" not in err and "\x1b" not in err
