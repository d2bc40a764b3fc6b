"""Actions check their arguments against the machine before anything changes."""
import pytest

from vmemlab.core import actions as act
from vmemlab.core.actions import ActionError
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, MiB


def fingerprint(m: Machine) -> tuple:
    return (m.guest.dead, m.mem.mem_free, m.mem.pages.sum(), m.devices[0].plugged_size, m.rng.bit_generator.state["state"]["state"])


@pytest.mark.parametrize("kind", ["kernel", "anon"])
@pytest.mark.parametrize("addr", [4 * GiB + 2 * MiB, 4 * GiB + 130 * MiB, 1 * GiB - 2 * MiB])
def test_alloc_at_an_address_that_is_not_online_memory_is_refused(kind, addr):
    """Unplugged device memory (not added, or an unplugged subblock) and a range running past the
    end of boot memory hold no pages the guest could allocate: refused, not an OOM panic."""
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="2M"))
    m.settle()
    m.take_events()
    before = fingerprint(m)
    with pytest.raises(ActionError, match="alloc.addr: .* online"):
        act.apply(m, act.make("alloc", size="4M", kind=kind, addr=addr))
    assert fingerprint(m) == before and not m.take_events()


def test_alloc_at_online_memory_works():
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="4M"))
    m.settle()
    act.apply(m, act.make("alloc", size="4K", kind="kernel", addr=4 * GiB + 2 * MiB))
    assert not m.guest.dead and m.mem.unmovable(slice(None)).sum() >= 1


def test_alloc_at_a_full_range_is_refused_not_an_oom():
    """memory32's first pageblocks hold the memmap of the blocks added after it: no room there."""
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="512M"))
    m.settle()
    assert m.mem.used()[m.mem.chunk_of_addr(4 * GiB)] == 512
    before = fingerprint(m)
    with pytest.raises(ActionError, match="alloc.addr: .* free"):
        act.apply(m, act.make("alloc", size="4K", kind="kernel", addr=4 * GiB))
    assert fingerprint(m) == before
