"""Machine-level host and guest operations: sleep refusal, STATE queries, host memory, migration."""
import pytest

from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.device import Resp
from vmemlab.core.events import Kind
from vmemlab.core.machine import SLEEP_REFUSED, Machine
from vmemlab.core.units import GiB, MiB


def machine(**dev) -> Machine:
    m = Machine(MachineConfig(auto_online_blocks="online_movable", devices=(DeviceConfig(**dev),)))
    m.settle()
    m.take_events()
    return m


def state(m: Machine) -> tuple:
    return (m.devices[0].plugged_size, m.mem.mem_total, m.mem.mem_free, m.boot_count, m.mem.pages.sum(),
            m.rng.bit_generator.state["state"]["state"])


@pytest.mark.parametrize("sleep", ["mem", "freeze", "disk"])
@pytest.mark.parametrize("plugged", [0, 512 * MiB])
def test_every_system_sleep_is_refused_and_changes_nothing(sleep, plugged):
    """Linux 6.1 virtio_mem_freeze(): -EPERM whenever the driver is bound, plugged or not."""
    m = machine(requested_size=plugged)
    before = state(m)
    m.suspend(sleep)
    events = m.take_events()
    assert state(m) == before
    assert any('"save/restore not supported."' in e.text and e.kind == Kind.DRIVER for e in events)
    assert SLEEP_REFUSED in events[-1].text and "Operation not permitted" in events[-1].text


def test_a_dead_guest_cannot_be_suspended():
    m = machine()
    m.guest.panic("test")
    with pytest.raises(act.ActionError, match="dead"):
        act.apply(m, act.make("hibernate"))


def test_state_request_answers_mixed_and_changes_nothing():
    m = machine(requested_size=100 * MiB)
    before = state(m)
    ans = m.state_request(0, m.devices[0].addr, 64)
    e = m.take_events()[-1]
    assert ans.resp == Resp.ACK and e.state == "MIXED" and e.request == "STATE" and "MIXED" in e.text
    assert state(m)[:5] == before[:5]


def test_state_outside_the_usable_region_is_an_error_answer_not_a_broken_driver():
    m = machine(requested_size=100 * MiB)
    act.apply(m, act.make("state", offset="3G", size="2M"))
    e = m.take_events()[-1]
    assert e.response == "ERROR" and "outside the usable region" in e.text and not m.drivers[0].broken


@pytest.mark.parametrize("raw, words", [
    ({"offset": "1M"}, "multiples of vmem0's block size 2M"),
    ({"size": "3M"}, "multiples of vmem0's block size 2M"),
    ({"size": "256G"}, "at most 65535"),
    ({"offset": "4G"}, "exceeds vmem0's region"),
    ({"device": "vmem9"}, "does not exist"),
])
def test_state_arguments_are_checked_before_anything_is_sent(raw, words):
    m = Machine(MachineConfig(devices=(DeviceConfig(region_size=1 << 40),))) if "256G" in raw.values() else machine()
    m.take_events()
    with pytest.raises(act.ActionError, match=words):
        act.apply(m, act.make("state", **raw))
    assert not m.take_events()


def test_host_memory_limit_with_prealloc_gives_busy_and_lifting_it_lets_the_retry_plug():
    m = machine(prealloc=True)
    act.apply(m, act.make("host_memory", size="256M"))
    act.apply(m, act.make("request", size="512M"))
    m.settle()
    events = m.take_events()
    assert m.devices[0].plugged_size == 256 * MiB and m.drivers[0].timer_at is not None
    assert [e.response for e in events if e.kind == Kind.REQUEST] == ["ACK", "ACK", "BUSY"]
    act.apply(m, act.make("host_memory"))
    m.advance(m.next_timer() - m.now)
    assert m.devices[0].plugged_size == 512 * MiB


def test_migration_event_says_how_much_is_plugged():
    m = machine(requested_size=1 * GiB)
    m.set_migration(True)
    assert "sends only plugged blocks (1G of the 4G device memory)" in m.take_events()[-1].text
