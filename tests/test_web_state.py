"""web.state.SandboxState: the page's one state object drives the core through the action registry."""
from dataclasses import replace

from vmemlab.core.scenario import default
from vmemlab.core.session import Session
from vmemlab.core.units import GiB, MiB
from vmemlab.web.state import SandboxState, scenario_names


def test_act_changes_the_model_and_bumps_version():
    s = SandboxState()
    v = s.version
    assert s.act("request", size="1G")
    assert s.machine.devices[0].plugged_size == 1 * GiB       # settled after the request
    assert s.version == v + 1 and s.message == ""
    assert any(e.kind.value == "request" for e in s.last_events)


def test_bad_size_names_the_field_and_changes_nothing():
    s = SandboxState()
    s.act("request", size="512M")
    before = (s.sandbox.position, s.machine.devices[0].requested_size, s.machine.devices[0].plugged_size)
    assert not s.act("request", size="301M")
    assert "requested-size" in s.message and "2M" in s.message
    assert not s.act("request", size="lots")
    assert "request.size" in s.message and "'lots'" in s.message
    assert (s.sandbox.position, s.machine.devices[0].requested_size, s.machine.devices[0].plugged_size) == before


def test_unknown_action_lists_the_allowed_ones():
    s = SandboxState()
    assert not s.act("explode")
    assert "'explode' is not known" in s.message and "fragment" in s.message


def test_online_offline_need_a_selected_block():
    s = SandboxState()
    s.act("request", size="256M")
    assert not s.act_on_selected("offline")
    assert "tap a block" in s.message
    s.select_block(33)
    assert s.act_on_selected("offline")
    assert not s.machine.mem.mb_online[s.machine.mem.phys_to_mb[33]]


def test_auto_settle_off_leaves_the_driver_working_and_tick_steps_it():
    s = SandboxState(Session(replace(default(), steps=[])))
    s.auto_settle = False
    s.act("request", size="256M")
    assert s.machine.devices[0].plugged_size == 0 and s.machine.busy()
    assert s.tick()
    assert s.machine.devices[0].plugged_size == 128 * MiB
    beats = 1 + next(k for k in range(10) if not s.tick())    # play stops when the driver is idle
    assert s.machine.devices[0].plugged_size == 256 * MiB and not s.machine.busy() and beats <= 3


def test_scrub_back_and_forward_through_redo():
    s = SandboxState()
    s.act("request", size="256M")
    s.act("request", size="512M")
    end = s.sandbox.position
    assert s.scrub(0) and s.machine.devices[0].plugged_size == 0
    assert s.timeline_length == end
    assert s.scrub(end) and s.machine.devices[0].plugged_size == 512 * MiB
    assert not s.scrub(end + 5)
    assert f"allowed: 0 to {end}" in s.message


def test_lesson_steps_and_load():
    s = SandboxState()
    assert s.play_lesson_step()
    assert s.session.cursor == 1 and s.machine.devices[0].plugged_size == 1 * GiB
    assert not s.load("no_such_lesson.toml")
    assert "allowed: default" in s.message and s.session.cursor == 1
    assert s.load("default") and s.session.cursor == 0 and s.sandbox.position == 0


def test_scenario_names_start_with_the_default_tour():
    names = scenario_names()
    assert names[0] == "default"
    assert all(n.endswith(".toml") for n in names[1:])
