"""The page as a whole: create_app, shareable URLs (validated), trace and metrics downloads."""
import csv
import html
import io
import json

import pytest

from vmemlab.core import trace_io
from vmemlab.core.units import GiB
from vmemlab.web import url
from vmemlab.web.app import create_app
from vmemlab.web.export import metrics_csv, trace_json
from vmemlab.web.state import scenario_names


def test_create_app_renders_and_each_call_has_its_own_session():
    a, b = create_app(), create_app()
    a.__panel__().get_root()
    a.state.act("request", size="1G")
    assert a.state.machine.devices[0].plugged_size == 1 * GiB
    assert b.state.machine.devices[0].plugged_size == 0
    assert a.state.session is not b.state.session


def test_url_opens_a_scenario_at_a_lesson_step():
    app = create_app(query={"scenario": [b"default"], "step": [b"1"]})
    assert app.state.session.cursor == 1 and app.state.machine.devices[0].plugged_size == 1 * GiB
    assert app.state.message == ""
    assert "?scenario=default&amp;step=1" in app.share.object


@pytest.mark.parametrize("query, words", [
    ({"step": ["x"]}, ["step", "'x'", "whole number"]),
    ({"step": ["99"]}, ["step", "allowed: 0 to 6"]),
    ({"scenario": ["nope"]}, ["scenario", "'nope'", "allowed: default"]),
    ({"color": ["red"]}, ["'color'", "allowed: scenario, step"]),
    ({"step": ["1", "2"]}, ["step", "given 2 times"]),
])
def test_bad_url_parameters_name_the_parameter_and_open_the_default(query, words):
    app = create_app(query=query)
    text = app.state.message
    assert html.unescape(app.region_map.caption.object).count(text) >= 1
    assert all(w in text for w in words), text
    assert app.state.scenario_name == "default" and app.state.session.cursor == 0


def test_parse_query_accepts_every_shipped_scenario():
    for name in scenario_names():
        assert url.parse_query({"scenario": [name]}, scenario_names()).scenario == name
    assert url.share_query("default", 3) == "?scenario=default&step=3"


def test_trace_replays_to_the_same_state():
    app = create_app()
    s = app.state
    s.act("request", size="1G")
    s.act("alloc", size="300M", kind="cache")
    s.act("request", size="256M")
    trace = json.loads(trace_json(s.session))
    assert trace["config"]["boot_memory"] == "1G" and trace["config"]["devices"][0]["region_size"] == "4G"
    result = trace_io.replay(trace)          # the same format `vmemlab replay` reads
    assert result.identical and result.sandbox.machine.metrics() == s.machine.metrics()


def test_metrics_csv_has_one_row_per_position():
    app = create_app()
    app.state.act("request", size="512M")
    rows = list(csv.DictReader(io.StringIO(metrics_csv(app.state.session))))
    assert len(rows) == app.state.sandbox.position + 1
    assert rows[0]["action"] == "boot" and rows[-1]["plugged"] == str(512 << 20)
    assert rows[-1]["blocks_MOVABLE"] == "4"


def test_compare_tab_shows_the_three_models_and_goes_out_of_date():
    app = create_app()
    app.state.act("request", size="512M")
    app.compare.show()
    shown = app.compare.pane.object
    assert "virtio-balloon" in shown and "ACPI DIMM" in shown and "granularity" in shown
    assert "last resize: step 1 of this session (request size=512M)" in shown
    assert len(app.compare.pictures.objects) == 3
    app.state.act("request", size="256M")
    assert "out of date" in app.compare.pane.object


def test_a_dropped_page_leaves_nothing_alive():
    """A closed tab's page must be collectable. Panel keeps every JS callback in a class-level
    WeakKeyDictionary keyed by its widget: a callback whose args name that widget itself keeps
    the key alive for good (each closed tab leaked its Copy-link button and two inputs)."""
    import gc
    import weakref

    from panel.links import Callback

    gc.collect()
    before = len(Callback.registry)
    app = create_app()
    page = weakref.ref(app)
    del app
    gc.collect()
    assert page() is None
    assert len(Callback.registry) == before, [type(k).__name__ for k in Callback.registry]
