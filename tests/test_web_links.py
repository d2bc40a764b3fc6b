"""web.links: a link or a trace file carries a whole session; everything in it is checked, and a
bad one is refused in one line that names the part, never with a traceback."""
from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmemlab.core import trace_io
from vmemlab.web import links
from vmemlab.web.app import create_app
from vmemlab.web.share import link_parts
from vmemlab.web.state import load_scenario, scenario_names

NAMES = {n: load_scenario(n).steps for n in scenario_names()}


def packed(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return "session=" + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def test_a_session_round_trips_through_a_link_and_replays_to_the_same_state():
    app = create_app()
    s = app.state
    s.play_lesson_step()
    s.act("request", size="512M")
    s.act("alloc", size="100M", kind="anon")
    query, fragment = link_parts(s)
    assert query == "?scenario=default" and fragment.startswith("session=")
    other = create_app()
    other.open_link("#" + fragment)
    assert other.state.sandbox.changes() == s.sandbox.changes()
    assert other.state.machine.metrics() == s.machine.metrics() and other.state.session.cursor == 1
    assert "opened the link: 3 changes replayed" in other.state.message


def test_a_lesson_position_gets_the_short_link():
    app = create_app(query={"scenario": ["01_resizable_dimm.toml"], "step": ["2"]})
    assert link_parts(app.state) == ("?scenario=01_resizable_dimm.toml&step=2", "")
    app.state.present = True
    assert link_parts(app.state)[0].endswith("&present=1")


@pytest.mark.parametrize("fragment, words", [
    ("session=%%%", "not base64url"),
    ("session=" + base64.urlsafe_b64encode(b"not zlib").decode(), "damaged"),
    (packed(b"\xff\xfe"), "not valid JSON"),
    (packed([1, 2]), "not a vmemlab session"),
    (packed({"v": 1, "scenario": "nope.toml", "changes": []}), "scenario 'nope.toml' is not known"),
    (packed({"v": 1, "scenario": "default", "changes": [{"action": "explode"}]}), "changes[0]"),
    (packed({"v": 1, "scenario": "default", "changes": [{"action": "request", "size": "3M", "settle": "yes"}]}),
     "settle: expected true or false"),
    (packed({"v": 1, "scenario": "default", "changes": {}}), "must be a list"),
    (packed({"v": 1, "scenario": "default", "changes": [], "x": 1}), "unknown field 'x'"),
    (packed({"v": 1, "scenario": "default", "changes": [{"action": "note", "text": "x", "lesson_step": 99}]}),
     "lesson_step 99 does not exist"),
    (packed({"v": 1, "scenario": "default", "changes": [{"action": "grow", "lesson_step": 1}]}),
     "is not lesson step 1"),
    ("session=" + "A" * (links.MAX_FRAGMENT + 1), "at most"),
    (packed(b"[" + b" " * (links.MAX_JSON + 10) + b"]"), "larger than"),
])
def test_a_bad_link_is_refused_by_name_and_the_page_stays(fragment, words):
    with pytest.raises(links.LinkError, match=words.replace("(", r"\(").replace("[", r"\[")):
        links.decode_session(fragment, NAMES)
    app = create_app()
    app.state.act("request", size="256M")
    before = app.state.sandbox.changes()
    app.open_link("#" + fragment)
    assert words.split("'")[0] in app.state.message and "stays as it was" in app.state.message
    assert app.state.sandbox.changes() == before


def test_a_refused_change_in_a_link_stops_the_replay_there():
    fragment = packed({"v": 1, "scenario": "default", "changes": [
        {"action": "request", "size": "256M", "settle": True}, {"action": "request", "size": "3M"},
        {"action": "request", "size": "1G"}]})
    app = create_app()
    app.open_link("#" + fragment)
    assert app.state.sandbox.position == 1 and "change 2 of the link" in app.state.message


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_fragment_ends_in_a_session_or_a_clear_error(text):
    try:
        links.decode_session("session=" + text, NAMES)
    except links.LinkError as e:
        assert str(e).startswith("link:")


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12))
def test_any_json_in_a_link_ends_in_a_session_or_a_clear_error(value):
    for obj in (value, {"v": 1, "scenario": "default", "changes": value}, {"v": 1, "scenario": "default",
                                                                          "changes": [value]}):
        try:
            links.decode_session(packed(obj), NAMES)
        except links.LinkError:
            pass


def test_a_trace_file_opens_with_its_own_machine_and_says_whether_it_replays_identically():
    app = create_app(query={"scenario": ["02_whole_block_removal.toml"], "step": ["3"]})
    blob = json.dumps(trace_io.session_trace(app.state.session), default=int).encode()
    shared = links.read_trace(blob, "t.json")
    assert shared.config == app.state.sandbox.config and len(shared.changes) == 3
    other = create_app()
    other.upload.filename = "t.json"
    other.upload.value = blob
    assert other.state.machine.metrics() == app.state.machine.metrics()
    assert "opened the trace: 3 changes replayed" in other.state.message and "differs" not in other.state.message
    assert other.state.scenario_name.startswith("trace: ")


@pytest.mark.parametrize("blob, words", [
    (b"\xff", "not UTF-8"), (b"{", "not valid JSON"), (b"[]", "not a vmemlab trace"),
    (json.dumps({"format": "vmemlab-trace", "version": 9}).encode(), "version 9"),
    (json.dumps({"format": "vmemlab-trace", "version": 2, "config": {}}).encode(), "config"),
])
def test_a_bad_trace_file_is_refused_by_name(blob, words):
    with pytest.raises(links.LinkError, match=words):
        links.read_trace(blob, "bad.json")
    app = create_app()
    app.upload.filename = "bad.json"
    app.upload.value = blob
    assert "bad.json" in app.state.message and app.state.sandbox.position == 0


@pytest.mark.parametrize("raw, ok", [(["1"], True), (["0"], False), ([b"1"], True)])
def test_present_parameter(raw, ok):
    assert links.parse_present(raw) is ok
    assert create_app(query={"present": raw}).state.present is ok


@pytest.mark.parametrize("raw", [["yes"], ["1", "1"], ["²"]])
def test_a_bad_present_parameter_is_named(raw):
    with pytest.raises(links.LinkError, match="URL parameter present"):
        links.parse_present(raw)
    app = create_app(query={"present": raw, "step": ["1"]})
    assert "URL parameter present" in app.state.message and "allowed: 0, 1" in app.state.message
