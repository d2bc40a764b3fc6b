"""Sandbox: actions in, events out; determinism; undo, redo and goto restore exact states."""
import pytest

from vmemlab.core.actions import ActionError
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.units import GiB, MiB


def run(seed: int) -> Sandbox:
    sb = Sandbox(MachineConfig(seed=seed, devices=(DeviceConfig(region_size=2 * GiB),)))
    sb.do("request", size="1G")
    sb.do("settle")
    sb.do("fragment", percent=2)
    sb.do("request", size="256M")
    sb.do("settle")
    return sb


def test_same_seed_same_events_and_state():
    a, b = run(7), run(7)
    assert [e.text for e in a.events] == [e.text for e in b.events]
    assert (a.machine.mem.pages == b.machine.mem.pages).all()


def test_different_seeds_differ():
    a, b = run(7), run(8)
    assert not (a.machine.mem.pages == b.machine.mem.pages).all()


def test_undo_redo_and_goto_restore_exact_states():
    sb = run(1)
    final_pages = sb.machine.mem.pages.copy()
    final_events = [e.text for e in sb.events]
    sb.goto(2)
    assert sb.machine.devices[0].plugged_size == 1 * GiB
    assert sb.position == 2 and len(sb.redo_stack) == 3
    while sb.redo():
        pass
    assert (sb.machine.mem.pages == final_pages).all()
    assert [e.text for e in sb.events] == final_events
    assert sb.undo() and sb.machine.devices[0].plugged_size == 1 * GiB


def test_new_action_after_undo_drops_redo():
    sb = run(1)
    sb.undo()
    sb.do("request", size="2G")
    assert sb.redo_stack == [] and not sb.redo()


def test_refused_action_changes_nothing():
    sb = run(1)
    before = sb.machine.metrics()
    n = len(sb.entries)
    with pytest.raises(ActionError, match="request.size"):
        sb.do("request", size="lots")
    with pytest.raises(ActionError, match="not a multiple of block-size 2M"):
        sb.do("request", size="3M")
    with pytest.raises(ActionError, match="memory999"):
        sb.do("offline", block=999)
    with pytest.raises(ActionError, match="unknown field 'sise'"):
        sb.do("request", sise="1G")
    assert sb.machine.metrics() == before and len(sb.entries) == n


def test_snapshots_stay_within_budget():
    cfg = MachineConfig(devices=(DeviceConfig(region_size=2 * GiB),))
    budget = 3 * Machine(cfg).nbytes()
    sb = Sandbox(cfg, snapshot_budget=budget)
    for i in range(20):
        sb.do("request", size=f"{(i % 4) * 128}M")
        sb.do("settle")
        assert sb.snapshot_bytes() <= budget
    sb.goto(6)   # request 0, settle, request 128M, settle, request 256M, settle
    assert sb.machine.devices[0].plugged_size == 256 * MiB


def test_every_action_builds_with_its_defaults_parsed():
    from vmemlab.core.actions import ACTIONS, REQUIRED, make
    for spec in ACTIONS.values():
        required = {p.name: "1G" if p.kind == "size" else 1 for p in spec.params if p.default is REQUIRED}
        if spec.name == "note":
            required = {"text": "hi"}
        action = make(spec.name, **required)
        for p in spec.params:
            if p.kind == "size" and action.arg(p.name) is not None:
                assert isinstance(action.arg(p.name), int), (spec.name, p.name)
    assert make("pin").arg("size") == 64 << 20


@pytest.mark.parametrize("name,args,message", [
    ("fragment", {"node": -1}, "fragment.node: -1 is not allowed; allowed: 0 to"),
    ("fragment", {"node": 3}, "fragment.node: 3 does not exist"),
    ("pin", {"tries": -3}, "pin.tries: -3 is not allowed; allowed: 1 to 255"),
    ("pin", {"tries": 0}, "pin.tries: 0 is not allowed"),
    ("pin", {"tries": 256}, "pin.tries: 256 is not allowed"),
])
def test_out_of_range_options_are_refused_by_name(name, args, message):
    """Found by fuzzing the terminal UI's forms: fragment on a node that does not exist did
    nothing silently; pin with tries=-3 raised OverflowError (a crash) instead of a refusal."""
    sb = run(1)
    sb.do("alloc", size="64M")
    before, n = sb.machine.metrics(), len(sb.entries)
    with pytest.raises(ActionError, match=message.replace("(", r"\(")):
        sb.do(name, **args)
    assert sb.machine.metrics() == before and len(sb.entries) == n


def test_redo_runs_as_work_and_a_cancelled_redo_starts_a_new_branch():
    """A redo's settle runs in slices like any Work; stopped early it is recorded as cut short,
    and the redo list (which assumed the whole settle) is gone: every state still equals a replay."""
    from test_session import assert_equals_replay
    from vmemlab.core.actions import make

    for policy in ("every", "cost", "never"):
        sb = Sandbox(MachineConfig(seed=2, devices=(DeviceConfig(region_size=2 * GiB),)), snapshot_policy=policy)
        sb.apply(make("request", size="1G"), settle=True)
        sb.apply(make("request", size="256M"), settle=True)
        sb.apply(make("note", text="after"))
        full = [e.text for e in sb.events]
        sb.goto(1)
        work = sb.begin_redo()
        assert work is not None and sb.work is work and not work.run(steps=3)
        assert sb.position == 1 and len(sb.redo_stack) == 1      # not on the timeline until it ends
        assert work.run()
        assert sb.position == 2 and [e.text for e in sb.events] == full[:len(sb.events)]
        assert sb.redo() and [e.text for e in sb.events] == full
        sb.goto(1)
        work = sb.begin_redo()
        work.run(steps=5)
        sb.stop_work()
        assert sb.changes()[-1].max_steps == 5 and not sb.redo_stack
        assert_equals_replay(sb)
        sb.goto(1)
        assert sb.begin_redo().finish() and sb.changes()[-1].max_steps == 5
        assert_equals_replay(sb)
    assert Sandbox(MachineConfig()).begin_redo() is None
