"""kdump: the crash kernel's virtio-mem driver answers /proc/vmcore with STATE requests."""
from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Kind
from vmemlab.core.kdump import dumped_blocks
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, MiB


def machine(size: str, **dev) -> Machine:
    m = Machine(MachineConfig(auto_online_blocks="online_movable",
                              devices=(DeviceConfig(region_size=dev.pop("region_size", 4 * GiB), **dev),)))
    act.apply(m, act.make("request", size=size))
    m.settle()
    m.take_events()
    return m


def dump(m: Machine) -> list:
    act.apply(m, act.make("kdump"))
    return m.take_events()


def requests(events) -> list:
    return [e for e in events if e.kind == Kind.REQUEST]


def test_one_state_request_per_device_block_of_every_added_memory_block():
    m = machine("300M")
    events = dump(m)
    reqs = requests(events)
    assert {e.request for e in reqs} == {"STATE"} and all(e.response == "ACK" for e in reqs)
    counts = {s: sum(e.repeat for e in reqs if e.state == s) for s in ("PLUGGED", "UNPLUGGED")}
    assert counts == {"PLUGGED": 150, "UNPLUGGED": 42}       # memory32-34: 3 x 64 device blocks
    assert sum(e.size for e in reqs) == 384 * MiB
    summary = next(e.text for e in events if e.text.startswith("vmcore: 384M"))
    assert "98304 pfn_is_ram() calls" in summary and "84M of unplugged memory returned as zeros" in summary


def test_the_crash_kernel_never_unplugs_and_the_dump_ends_in_a_system_reset():
    m = machine("300M")
    events = dump(m)
    texts = [e.text for e in events]
    assert not any(e.request in ("PLUG", "UNPLUG", "UNPLUG_ALL") for e in requests(events))
    assert any("memory hot(un)plug disabled in kdump kernel" in t for t in texts)
    assert texts.index(next(t for t in texts if t.startswith("system reset"))) > texts.index(
        next(t for t in texts if "dump is saved" in t))
    assert m.devices[0].plugged_size == 0 and m.boot_count == 1


def test_a_device_block_bigger_than_a_memory_block_is_asked_once():
    """1 GiB device blocks (Big Block Mode): eight memory blocks, one cached answer."""
    m = machine("2G", block_size=1 * GiB, region_size=8 * GiB)
    reqs = requests(dump(m))
    assert sum(e.repeat for e in reqs) == 2 and {e.state for e in reqs} == {"PLUGGED"}


def test_nothing_plugged_means_no_request_at_all():
    """virtio_mem_vmcore_pfn_is_ram(): 'if (!vm->plugged_size) return false;'"""
    m = machine("0")
    assert not requests(dump(m))


def test_dumped_blocks_follow_the_added_memory_blocks():
    m = machine("130M")                                  # memory32 full, memory33 with one subblock
    drv = m.drivers[0]
    blocks = dumped_blocks(m, drv)
    assert list(blocks) == list(range(128))


def test_a_dead_guest_is_dumped_too():
    m = machine("128M")
    m.guest.panic("test")
    m.take_events()
    events = dump(m)
    assert "the panic starts the crash kernel" in events[0].text
    assert not m.guest.dead
