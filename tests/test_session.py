"""Session and Sandbox time travel: every state on screen equals a replay of the visible timeline.

Snapshots are an optimisation, so every history here is run with a snapshot after every change,
with none at all, and with the default cost-based policy: timing must never decide a result.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vmemlab.core import trace_io
from vmemlab.core.actions import ActionError, make
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.sandbox import Change, Sandbox
from vmemlab.core.scenario import default, parse
from vmemlab.core.session import Session
from vmemlab.core.units import GiB, MiB

from helpers import fingerprint

POLICIES = [("every", 1 << 40), ("never", 1 << 40), ("cost", 256 << 20), ("cost", 0)]
POLICY_IDS = ["snapshot-every-change", "no-snapshots", "cost-based", "no-budget"]


def session(policy: str, budget: int, scenario=None) -> Session:
    s = Session(scenario or default())
    s.sandbox = Sandbox(s.scenario.config, snapshot_budget=budget, snapshot_policy=policy)
    return s


def replayed(sb: Sandbox) -> Sandbox:
    """A fresh sandbox with the same timeline applied from boot, one change after another."""
    fresh = Sandbox(sb.config, snapshot_policy="never")
    for change in sb.changes():
        fresh.apply_change(change)
    return fresh


def assert_equals_replay(sb: Sandbox) -> None:
    fresh = replayed(sb)
    assert fingerprint(sb.machine) == fingerprint(fresh.machine)
    assert [e.text for e in sb.events] == [e.text for e in fresh.events]
    assert sb.metrics_history() == fresh.metrics_history()


@pytest.mark.parametrize("policy,budget", POLICIES, ids=POLICY_IDS)
def test_undo_after_a_new_branch_never_restores_the_discarded_branch(policy, budget):
    """The issue's recipe: play the tour, undo everything, branch, then undo once."""
    s = session(policy, budget)
    while s.play_lesson_step() is not None:
        pass
    while s.undo():
        pass
    s.apply(make("request", size="256M"))
    s.apply(make("settle"))
    for k in range(8):
        s.apply(make("note", text=f"note {k}"))
    assert s.undo()
    assert s.machine.devices[0].requested_size == 256 * MiB
    assert s.machine.devices[0].plugged_size == 256 * MiB
    assert_equals_replay(s.sandbox)


@pytest.mark.parametrize("policy,budget", POLICIES, ids=POLICY_IDS)
def test_a_lesson_never_skips_a_step_after_rewinding(policy, budget):
    s = session(policy, budget)
    s.play_lesson_step()
    s.play_lesson_step()
    s.goto(0)
    s.apply(make("grow"))                       # any action: the redo list (steps 1 and 2) is gone
    assert s.cursor == 0
    assert s.next_lesson_step().index == 1
    result = s.play_lesson_step()
    assert result.step.index == 1 and s.cursor == 1


def test_redo_brings_lesson_steps_back_and_the_cursor_follows():
    s = Session(default())
    for _ in range(3):
        s.play_lesson_step()
    s.goto(1)
    assert s.cursor == 1 and s.next_lesson_step().index == 2
    s.redo()
    assert s.cursor == 2
    assert s.marks == [0, 1]


def test_a_lesson_step_and_its_settle_are_one_position():
    s = Session(default())
    s.play_lesson_step()
    assert s.sandbox.position == 1 and s.cursor == 1
    assert s.machine.devices[0].plugged_size == s.machine.devices[0].requested_size
    assert s.undo() and s.machine.devices[0].plugged_size == 0 and s.cursor == 0


def test_a_refused_lesson_step_keeps_its_position_and_says_why():
    sc = parse('[[step]]\naction = "request"\nsize = "3M"\n[[step]]\naction = "request"\nsize = "4M"\n')
    s = Session(sc)
    result = s.play_lesson_step()
    assert result.error and "block-size" in result.error
    assert s.sandbox.position == 1 and s.cursor == 1
    assert "step 1 was refused" in s.sandbox.last_events()[0].text
    assert s.play_lesson_step().step.index == 2 and s.machine.devices[0].requested_size == 4 * MiB


# ----- long settles in slices -------------------------------------------------------------------
def test_work_runs_in_slices_and_commits_as_one_position():
    s = Session(default())
    work = s.start(make("request", size="1G"), settle=True)
    assert s.sandbox.position == 0 and s.work is work
    assert not work.run(steps=2)
    assert s.machine.devices[0].plugged_size == 256 * MiB          # two requests of 128 MiB so far
    assert work.run()
    assert s.sandbox.position == 1 and s.work is None
    assert s.machine.devices[0].plugged_size == 1 * GiB
    assert_equals_replay(s.sandbox)


def test_a_cancelled_settle_is_recorded_as_what_it_did_and_replays_exactly():
    s = Session(default())
    work = s.start(make("request", size="1G"), settle=True)
    work.run(steps=3)
    assert s.cancel_work()
    assert s.sandbox.position == 1
    change = s.sandbox.changes()[-1]
    assert change.settle and change.max_steps == 3
    assert s.machine.devices[0].plugged_size == 384 * MiB
    assert_equals_replay(s.sandbox)
    data = trace_io.trace(s.sandbox)
    assert data["actions"][0]["settle_steps"] == 3
    assert trace_io.replay(data).identical


def test_undo_during_a_settle_stops_it_and_undoes_the_whole_gesture():
    s = Session(default())
    s.start(make("request", size="1G"), settle=True).run(steps=2)
    assert s.undo()
    assert s.sandbox.position == 0 and s.machine.devices[0].plugged_size == 0
    assert s.redo() and s.machine.devices[0].plugged_size == 256 * MiB       # redo brings back what was done


def test_the_settle_action_itself_runs_in_slices():
    s = Session(default())
    s.apply(make("request", size="512M"))
    work = s.start(make("settle"))
    assert not work.run(steps=1)
    work.cancel()
    assert s.machine.devices[0].plugged_size == 128 * MiB
    assert_equals_replay(s.sandbox)


def test_a_lesson_step_can_be_watched_request_by_request():
    s = Session(default())
    work = s.start_lesson_step()
    assert s.playing_step.index == 1 and s.current_note() == s.scenario.steps[0].note
    seen = []
    while not work.run(steps=1):
        seen.append(s.machine.devices[0].plugged_size)
    assert seen == sorted(seen) and len(seen) > 2
    assert s.cursor == 1 and s.playing_step is None


# ----- memory budget ------------------------------------------------------------------------
def test_snapshots_stay_within_the_budget_and_a_big_machine_is_rebuilt_not_copied():
    cfg = MachineConfig(devices=(DeviceConfig(region_size=64 * GiB),))
    per = Sandbox(cfg).machine.nbytes()
    sb = Sandbox(cfg, snapshot_budget=256 << 10, snapshot_policy="every")   # not even one snapshot fits
    assert sb.snapshot_positions() == []
    sb.do("request", size="2G")
    sb.do("settle")
    sb.do("request", size="1G")
    sb.do("settle")
    assert sb.snapshot_positions() == []
    sb.goto(2)
    assert sb.machine.devices[0].plugged_size == 2 * GiB
    assert_equals_replay(sb)
    roomy = Sandbox(cfg, snapshot_budget=5 * per, snapshot_policy="every")
    for size in ("2G", "1G", "3G", "512M", "4G", "0"):
        roomy.apply(make("request", size=size), settle=True)
        assert roomy.snapshot_bytes() <= 5 * per


# ----- the state machine: random sessions ---------------------------------------------------------
CONFIG = MachineConfig(boot_memory=1 * GiB, auto_online_blocks="online", seed=11,
                       devices=(DeviceConfig(region_size=1 * GiB),))
ACTIONS = st.one_of(
    st.integers(0, 512).map(lambda n: make("request", size=n * 2 * MiB)),
    st.just(make("grow")), st.just(make("shrink")), st.just(make("settle")),
    st.integers(1, 40).map(lambda n: make("step", count=n)),
    st.integers(1, 300).map(lambda n: make("alloc", size=n * MiB)),
    st.integers(1, 300).map(lambda n: make("alloc", size=n * MiB, kind="kernel")),
    st.just(make("free")), st.just(make("fragment", percent=1.0)),
    st.just(make("pin")), st.just(make("retry")), st.just(make("advance", seconds=60.0)),
    st.just(make("migration")), st.just(make("kexec")), st.just(make("reset")),
    st.text("abc ", max_size=5).map(lambda t: make("note", text=t)),
)


class SessionMachine(RuleBasedStateMachine):
    """Random mixes of actions, lesson steps, undo, redo, goto and cut-short settles."""

    def __init__(self):
        super().__init__()
        self.s: Session | None = None

    @initialize(policy=st.sampled_from(POLICIES))
    def start(self, policy):
        sc = default()
        sc.config = CONFIG
        self.s = session(*policy, scenario=sc)

    @rule(action=ACTIONS, settle=st.booleans())
    def act(self, action, settle):
        try:
            self.s.apply(action, settle=settle)
        except ActionError:
            pass

    @rule(action=ACTIONS, steps=st.integers(0, 5))
    def act_and_cancel(self, action, steps):
        try:
            work = self.s.start(action, settle=True)
        except ActionError:
            return
        work.run(steps=steps)
        self.s.cancel_work()

    @rule()
    def lesson_step(self):
        self.s.play_lesson_step()

    @rule()
    def undo(self):
        self.s.undo()

    @rule()
    def redo(self):
        self.s.redo()

    @precondition(lambda self: self.s is not None and self.s.sandbox.position > 0)
    @rule(data=st.data())
    def goto(self, data):
        self.s.goto(data.draw(st.integers(0, self.s.sandbox.position)))

    @invariant()
    def equals_a_replay_of_its_timeline(self):
        if self.s is not None:
            assert_equals_replay(self.s.sandbox)
            assert self.s.cursor == max((c.lesson_step for c in self.s.sandbox.changes()), default=0)


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])


def test_change_round_trips_through_a_trace():
    c = Change(make("request", size="1G"), True, 7, 3)
    assert trace_io.change_from_dict(c.to_dict()) == c
    with pytest.raises(ActionError, match="settle: expected true or false"):
        trace_io.change_from_dict({"action": "settle", "settle": "no"})
    with pytest.raises(ActionError, match="settle_steps"):
        trace_io.change_from_dict({"action": "settle", "settle_steps": -1})


def test_own_changes_counts_the_users_changes_after_the_last_lesson_step():
    s = Session(default())
    assert s.own_changes == 0
    s.do("request", size=256 * MiB)
    assert s.own_changes == 1                       # before any lesson step: everything is the user's
    s.undo()
    s.play_lesson_step()
    assert s.own_changes == 0
    s.do("grow")
    s.do("shrink")
    assert s.own_changes == 2
    s.undo()
    s.undo()
    assert s.own_changes == 0 and s.cursor == 1


def test_resume_wraps_an_existing_sandbox_without_booting_again():
    s = Session(default())
    s.play_lesson_step()
    resumed = Session.resume(s.scenario, s.sandbox)
    assert resumed.sandbox is s.sandbox and resumed.cursor == 1 and resumed.next_lesson_step() is s.scenario.steps[1]
