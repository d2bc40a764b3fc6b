"""The driver's main loop: retries and backoff, NACK, BUSY, ERROR, -ENOSPC, probe with UNPLUG_ALL."""
import numpy as np

from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig
from vmemlab.core.events import Kind
from vmemlab.core.machine import Machine
from vmemlab.core.memory import Page
from vmemlab.core.units import GiB, MiB

from conftest import trace_like
from helpers import requests, resize


def _pin_everything(m: Machine) -> None:
    m.mem.free(Page.KERNEL, None, m.rng)
    act.apply(m, act.make("fragment", percent=5, spread="worst"))


def test_retry_backoff_50_100_200_300_300(normal_machine):
    m = normal_machine
    resize(m, "256M")
    _pin_everything(m)
    resize(m, "0")
    drv = m.drivers[0]
    waits = []
    for _ in range(5):
        armed_at = m.now
        t = drv.timer_at
        waits.append(round(t - armed_at))
        act.apply(m, act.make("retry"))
        m.take_events()
    assert waits == [50, 100, 200, 300, 300]
    assert m.devices[0].plugged_size == 256 * MiB


def test_success_resets_backoff(normal_machine):
    m = normal_machine
    resize(m, "256M")
    _pin_everything(m)
    resize(m, "0")
    act.apply(m, act.make("retry"))
    assert m.drivers[0].retry_timer_ms == 100_000
    m.mem.free(Page.KERNEL, None, m.rng)
    act.apply(m, act.make("retry"))
    assert m.devices[0].plugged_size == 0
    assert m.drivers[0].retry_timer_ms == 50_000 and m.drivers[0].timer_at is None


def test_nack_when_config_change_arrives_late(movable_machine):
    m = movable_machine
    m.set_requested_size(0, 1 * GiB)
    m.step()                       # plug memory32, run still going
    m.set_requested_size(0, 128 * MiB, race=True)
    m.settle()
    ev = m.take_events()
    reqs = requests(ev)
    assert reqs[:2] == ["plug[0+64]", "plug[64+64]=NACK"]
    assert any(e.kind == Kind.DRIVER and "-EAGAIN" in e.text for e in ev)
    assert m.devices[0].plugged_size == 128 * MiB and m.drivers[0].status() == "idle"


def test_config_change_before_send_aborts_without_nack(movable_machine):
    m = movable_machine
    m.set_requested_size(0, 1 * GiB)
    m.step()
    m.set_requested_size(0, 128 * MiB)
    m.settle()
    assert all("NACK" not in r for r in requests(m.take_events()))
    assert m.devices[0].plugged_size == 128 * MiB


def test_migration_busy_then_backoff_then_success(movable_machine):
    m = movable_machine
    m.set_migration(True)
    ev = resize(m, "256M")
    assert requests(ev) == ["plug[0+64]=BUSY"]
    assert m.drivers[0].timer_at is not None and "BUSY" in [e for e in ev if e.kind == Kind.RETRY][0].text
    m.set_migration(False)
    act.apply(m, act.make("retry"))
    assert m.devices[0].plugged_size == 256 * MiB


def test_error_marks_driver_broken(movable_machine):
    m = movable_machine
    resize(m, "256M")
    act.apply(m, act.make("buggy_request", kind="double_plug"))
    assert not m.drivers[0].broken          # NACK: QEMU checks requested size first
    act.apply(m, act.make("buggy_request", kind="double_unplug"))
    assert m.drivers[0].broken
    resize(m, "1G")
    assert m.devices[0].plugged_size == 256 * MiB
    assert m.drivers[0].status().startswith("broken")


def test_nobody_onlines_stalls_at_the_offline_threshold():
    m = Machine(trace_like(auto_online_blocks="offline"))
    ev = resize(m, "3G")
    assert m.devices[0].plugged_size == 1 * GiB          # 8 blocks of 128M offline = 1 GiB threshold
    assert any("-ENOSPC" in e.text for e in ev) and m.drivers[0].timer_at is None
    act.apply(m, act.make("online", block=32, type="online_movable"))
    m.settle()
    assert m.devices[0].plugged_size == 1 * GiB       # retries only once half the threshold is free
    for block in (33, 34, 35):
        act.apply(m, act.make("online", block=block, type="online_movable"))
    m.settle()
    assert m.devices[0].plugged_size == 1 * GiB + 512 * MiB


def test_kexec_sends_unplug_all_first(movable_machine):
    m = movable_machine
    resize(m, "512M")
    m.reboot(reset_devices=False)
    m.settle()
    reqs = requests(m.take_events())
    assert reqs[0] == "unplug_all" and reqs[1:] == ["plug[0+64]", "plug[64+64]", "plug[128+64]", "plug[192+64]"]
    assert m.devices[0].plugged_size == 512 * MiB


def test_system_reset_unplugs_and_shrinks_usable_region(movable_machine):
    m = movable_machine
    resize(m, "2G")
    resize(m, "256M")
    assert m.devices[0].usable_region_size == 2304 * MiB
    m.reboot(reset_devices=True)
    assert m.devices[0].usable_region_size == 512 * MiB
    m.settle()
    assert "unplug_all" not in requests(m.take_events())
    assert m.devices[0].plugged_size == 256 * MiB


def test_bbm_whole_big_blocks_and_rounding():
    m = Machine(trace_like(auto_online_blocks="online_movable", force_bbm=True))
    assert m.drivers[0].mode == "BBM" and m.drivers[0].unit_size == 128 * MiB
    assert requests(resize(m, "300M")) == ["plug[0+64]", "plug[64+64]"]
    assert requests(resize(m, "0")) == ["unplug[64+64]", "unplug[0+64]"]


def test_bbm_one_busy_page_pins_the_big_block():
    m = Machine(trace_like(auto_online_blocks="online", force_bbm=True, background_kernel_allocs=0))
    resize(m, "256M")
    mb = m.drivers[0].mb_off
    m.mem.alloc(1, Page.KERNEL, m.rng, at=slice(m.mem.mb_chunks(mb).start + 5, m.mem.mb_chunks(mb).start + 6))
    ev = resize(m, "0")
    assert requests(ev) == ["unplug[64+64]"]
    assert m.devices[0].plugged_size == 128 * MiB


def test_arm64_64k_pages_choose_bbm_with_512m_blocks():
    m = Machine(trace_like(arch="arm64-64k", boot_memory=2 * GiB,
                           devices=(DeviceConfig(region_size=4 * GiB),)))
    assert m.drivers[0].mode == "BBM" and m.drivers[0].unit_size == 512 * MiB
    assert m.devices[0].usable_region_size == 0
    resize(m, "1G")
    assert m.devices[0].usable_region_size == 2 * GiB  # arm: requested + 1 GiB


def test_two_devices_one_per_node():
    m = Machine(trace_like(nodes=2, boot_memory=2 * GiB, auto_online_blocks="online_movable",
                           devices=(DeviceConfig("vmem0", node=0, region_size=4 * GiB),
                                    DeviceConfig("vmem1", node=1, region_size=4 * GiB))))
    resize(m, "512M", dev=0)
    resize(m, "256M", dev=1)
    assert [d.plugged_size for d in m.devices] == [512 * MiB, 256 * MiB]
    nodes = {int(m.mem.mb_node[mb]) for mb in range(m.mem.n_mb) if m.mem.mb_present[mb] and m.mem.mb_device[mb] == 1}
    assert nodes == {1}


def test_a_gap_smaller_than_one_subblock_ends_the_run_idle_not_blocked():
    """if (!nb) return 0; in the plug and unplug paths: recorded blk1m-movable stays at 100M for 101M."""
    m = Machine(trace_like(auto_online_blocks="online_movable", devices=(DeviceConfig(block_size=1 * MiB),)))
    resize(m, "101M")
    drv = m.drivers[0]
    assert m.devices[0].plugged_size == 100 * MiB and drv.status() == "idle" and not drv.blocked
    ev = resize(m, "99M")
    assert m.devices[0].plugged_size == 100 * MiB and drv.status() == "idle"
    assert any("smaller than one subblock" in e.text and "if (!nb) return 0;" in e.text for e in ev)


def test_kexec_keeps_plugged_memory_because_there_is_no_system_reset(movable_machine):
    m = movable_machine
    resize(m, "512M")
    act.apply(m, act.make("kexec"))
    text = " ".join(e.text for e in m.take_events())
    assert "without a system reset" in text and "resets the virtio device" in text
    assert "without a device reset" not in text


def test_a_region_whose_edges_are_not_block_aligned_wastes_them():
    m = Machine(trace_like(devices=(DeviceConfig(region_size=1 * GiB + 64 * MiB, addr=4 * GiB + 64 * MiB),)))
    ev = resize(m, "1088M")
    assert m.devices[0].plugged_size == 1 * GiB              # memory33..memory40: the whole blocks inside
    assert requests(ev)[0] == "plug[64+64]"                   # 4 GiB + 128 MiB: helpers count from 4 GiB
    assert m.drivers[0].status().startswith("blocked")


def test_grouped_unmovable_pages_leave_most_of_a_normal_block_unpluggable(normal_machine):
    m = normal_machine
    resize(m, "1G")
    act.apply(m, act.make("fragment", percent=1))
    resize(m, "0")
    grouped = m.devices[0].plugged_size
    worst = Machine(trace_like(auto_online_blocks="online"))
    resize(worst, "1G")
    act.apply(worst, act.make("fragment", percent=1, spread="worst"))
    resize(worst, "0")
    assert grouped < 64 * MiB < worst.devices[0].plugged_size


def test_removing_a_block_queues_the_work_again_so_an_error_does_not_wait_for_the_timer(normal_machine):
    """virtio_mem_offline_and_remove_memory() calls virtio_mem_retry(): a run that removed a block
    and then ends with -EBUSY runs again at once (the timer it armed is cancelled), and only the
    run that removed nothing waits for the timer."""
    m = normal_machine
    resize(m, "512M")
    mem = m.mem
    first = mem.mb_chunks(m.drivers[0].mb_off).start
    pinned = np.arange(first, first + 3 * mem.chunks_per_mb)             # memory32-34; memory35 stays free
    mem.add_pages(Page.KERNEL, pinned, np.ones(len(pinned), dtype=np.int64))
    ev = resize(m, "0")
    assert requests(ev) == ["unplug[192+64]"]
    ends = [e.text for e in ev if e.kind == Kind.RETRY]
    assert len(ends) == 2
    assert "runs again at once" in ends[0] and "retry timer armed: next try in 50 s" in ends[1]
    assert m.drivers[0].timer_at is not None and m.drivers[0].status().startswith("waiting")
