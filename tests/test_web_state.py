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


def test_auto_settle_off_leaves_the_driver_working_and_play_steps_it():
    s = SandboxState(Session(replace(default(), steps=[])))
    s.auto_settle = False
    s.act("request", size="256M")
    assert s.machine.devices[0].plugged_size == 0 and s.machine.busy()
    assert s.tick() == ""
    assert s.machine.devices[0].plugged_size == 128 * MiB
    beats = 1 + next(k for k in range(10) if s.tick())          # play stops when the driver is idle
    assert s.machine.devices[0].plugged_size == 256 * MiB and not s.machine.busy() and beats <= 3
    assert "nothing left" in s.tick()


def plugged_per_beat(s: SandboxState, beats: int = 40) -> tuple[list[int], str]:
    sizes, why = [s.machine.devices[0].plugged_size], ""
    for _ in range(beats):
        why = s.tick()
        if why:
            break
        sizes.append(s.machine.devices[0].plugged_size)
    return sizes, why


def test_play_never_resumes_the_tour_on_top_of_the_users_own_changes():
    s = SandboxState()
    s.auto_settle = False
    s.act("request", size="1G")                                  # the user's own request, not the tour's
    sizes, why = plugged_per_beat(s)
    assert max(b - a for a, b in zip(sizes, sizes[1:])) <= 128 * MiB   # one request per beat, watchable
    assert sizes[-1] == 1 * GiB and s.session.cursor == 0          # the tour's step 1 was not played
    assert "of your own" in why and "Next lesson step" in why
    assert all(c.action.name in ("request", "step") for c in s.sandbox.changes())


def test_play_on_the_lessons_track_watches_a_step_request_by_request_as_one_position():
    s = SandboxState()
    s.auto_settle = False
    sizes, why = plugged_per_beat(s, beats=12)
    assert sizes[-1] >= 1 * GiB and s.session.cursor >= 1          # lesson step 1: request 1G
    assert max(b - a for a, b in zip(sizes, sizes[1:])) <= 128 * MiB
    assert s.sandbox.changes()[0].lesson_step == 1 and s.sandbox.changes()[0].settle
    assert s.sandbox.metrics_history()[1].plugged == 1 * GiB      # the step and its settle: one position
    s.undo() if s.sandbox.position > 1 else None


def test_play_with_settle_on_plays_one_lesson_step_per_beat():
    s = SandboxState()
    assert s.tick() == "" and s.session.cursor == 1 and s.machine.devices[0].plugged_size == 1 * GiB
    assert s.tick() == "" and s.session.cursor == 2


def test_a_long_settle_runs_in_slices_and_cancel_keeps_a_replayable_state():
    from vmemlab.core import trace_io
    from vmemlab.core.config import DeviceConfig, MachineConfig
    from vmemlab.core.scenario import Scenario
    cfg = MachineConfig(boot_memory=8 * GiB, devices=(DeviceConfig(region_size=1024 * GiB),))
    s = SandboxState(Session(Scenario("big", "", cfg, [])))
    calls = []
    s.scheduler = calls.append                                     # the page's event loop, by hand
    s.act("request", size="1T")                                    # 8192 blocks: more than two slices
    assert s.busy and calls and s.working.startswith("request size=1T")
    assert s.sandbox.position == 0                                 # not on the timeline until done
    s.pump()
    done = s.session.work.steps
    assert 0 < done and s.version >= 1
    assert s.cancel() and not s.busy and "stopped after" in s.message
    plugged = s.machine.devices[0].plugged_size
    assert 0 < plugged < 1024 * GiB and s.sandbox.position == 1
    replayed = trace_io.replay(trace_io.session_trace(s.session))
    assert replayed.identical and replayed.sandbox.machine.devices[0].plugged_size == plugged
    assert s.undo() and s.machine.devices[0].plugged_size == 0     # one undo takes the whole gesture


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
