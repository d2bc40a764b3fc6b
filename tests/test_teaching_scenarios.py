"""The classic teaching scenarios of virtio-mem-facts.md §8 that the core covers (1-12)."""
from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig
from vmemlab.core.events import Kind
from vmemlab.core.machine import Machine
from vmemlab.core.memory import Page, Zone
from vmemlab.core.units import GiB, MiB

from conftest import trace_like
from helpers import requests, resize


def test_s1_unmovable_pages_in_normal_keep_plugged_above_requested(normal_machine):
    m = normal_machine
    resize(m, "1G")
    act.apply(m, act.make("fragment", percent=1))
    ev = resize(m, "0")
    assert m.devices[0].plugged_size > 0
    assert any(e.kind == Kind.FAKE_OFFLINE_FAILED and "ZONE_NORMAL" in e.text for e in ev)
    assert any(e.kind == Kind.RETRY and "50 s" in e.text for e in ev)


def test_s2_zone_movable_reaches_the_target_with_the_same_load(movable_machine):
    m = movable_machine
    resize(m, "1G")
    m.guest.allocate(400 * MiB, Page.CACHE)
    act.apply(m, act.make("fragment", percent=1))
    resize(m, "0")
    assert m.devices[0].plugged_size == 0
    assert m.mem.used_total[Page.CACHE] == 400 * MiB // 4096   # all migrated into boot memory


def test_s2_transient_pins_are_tolerated_by_five_tries_on_movable(movable_machine):
    m = movable_machine
    resize(m, "256M")
    m.guest.allocate(64 * MiB, Page.ANON, placement="packed", at=m.mem.mb_chunks(m.drivers[0].mb_off + 1))
    act.apply(m, act.make("pin", size="64M", tries=3))
    resize(m, "0")
    assert m.devices[0].plugged_size == 0


def test_s3_whole_block_removal_frees_memmap(movable_machine):
    m = movable_machine
    resize(m, "256M")
    assert m.mem.memmap_bytes == 4 * MiB
    ev = resize(m, "128M")
    assert [e.memory_block for e in ev if e.kind == Kind.BLOCK_REMOVED] == [33]
    assert m.mem.memmap_bytes == 2 * MiB
    assert not m.mem.mb_present[m.mem.phys_to_mb[33]]


def test_s4_balloon_fresh_guest_takes_whole_blocks_long_running_guest_splits_many_virtio_mem_none():
    """§8.4: a 1 GiB balloon is 262144 order-0 pages from the buddy allocator; virtio-mem 1 GiB is
    512 subblocks, 8 whole memory blocks removed."""
    from vmemlab.core.compare import compare_actions
    cfg = trace_like(boot_memory=2 * GiB, auto_online_blocks="online_movable",
                     devices=(DeviceConfig(region_size=4 * GiB, requested_size=4 * GiB),))
    steps = [act.make("request", size="3G"), act.make("request", size="4G"),
             act.make("alloc", size="3G", kind="cache"), act.make("free", kind="cache", size="2560M"),
             act.make("request", size="3G")]
    rows = compare_actions(cfg, steps).rows
    fresh, later = rows[1].models, rows[5].models
    assert fresh["balloon"].host_thp_split <= 5 < 400 < later["balloon"].host_thp_split
    assert fresh["virtio_mem"].host_thp_split == later["virtio_mem"].host_thp_split == 0
    assert fresh["balloon"].memmap - fresh["virtio_mem"].memmap == 16 * MiB      # 8 blocks' memmap


def test_s5_nack_race_switches_to_unplug(movable_machine):
    m = movable_machine
    m.set_requested_size(0, 1 * GiB)
    m.step()
    m.set_requested_size(0, 0, race=True)
    m.settle()
    reqs = requests(m.take_events())
    assert reqs[1].endswith("=NACK") and reqs[-1].startswith("unplug")
    assert m.devices[0].plugged_size == 0


def test_s6_migration_busy_backs_off_exponentially(movable_machine):
    m = movable_machine
    m.set_migration(True)
    resize(m, "256M")
    gaps = [round(m.drivers[0].timer_at - m.now)]
    for _ in range(3):
        act.apply(m, act.make("retry"))
        gaps.append(round(m.drivers[0].timer_at - m.now))
    assert gaps == [50, 100, 200, 300]
    assert m.devices[0].plugged_size == 0
    m.set_migration(False)
    act.apply(m, act.make("retry"))
    assert m.devices[0].plugged_size == 256 * MiB


def test_s7_error_is_fatal(movable_machine):
    m = movable_machine
    act.apply(m, act.make("buggy_request", kind="misaligned"))
    assert m.drivers[0].broken
    resize(m, "256M")
    assert m.devices[0].plugged_size == 0


def test_s8_nobody_onlines_stalls_at_1g():
    m = Machine(trace_like(auto_online_blocks="offline"))
    resize(m, "4G")
    assert m.devices[0].plugged_size == 1 * GiB and m.drivers[0].blocked


def test_s9_partial_block_accounting(movable_machine):
    m = movable_machine
    resize(m, "2M")
    mb = m.mem.phys_to_mb[32]
    assert m.mem.mb_online[mb]                     # lsmem: +128M online
    assert m.mem.mem_total // 1024 == 915420 + 2048  # MemTotal: +2M
    assert m.mem.memmap_bytes == 2 * MiB             # memmap: 2M, 100 % of what is plugged


def test_s10_reboot_replugs_from_scratch(movable_machine):
    m = movable_machine
    resize(m, "1G")
    m.guest.allocate(100 * MiB, Page.ANON)
    m.reboot(reset_devices=True)
    assert m.devices[0].plugged_size == 0 and m.mem.used_total[Page.ANON] == 0
    m.settle()
    assert m.devices[0].plugged_size == 1 * GiB


def test_s11_auto_movable_ratio_prevents_zone_imbalance():
    cfg = trace_like(online_policy="auto-movable", devices=(DeviceConfig(region_size=8 * GiB),))
    m = Machine(cfg)
    resize(m, "8G")
    zones = [int(m.mem.mb_zone[mb]) for mb in range(m.mem.n_mb) if m.mem.mb_online[mb] and m.mem.mb_device[mb] == 0]
    movable = zones.count(Zone.MOVABLE)
    kernel = zones.count(Zone.NORMAL)
    assert movable and kernel                       # some blocks had to go to ZONE_NORMAL
    assert movable * 100 <= 301 * (8 + kernel)      # MOVABLE <= 301 % of kernel memory (boot = 8 blocks)


def test_s11_all_movable_runs_kernel_out_of_memory():
    m = Machine(trace_like(auto_online_blocks="online_movable", devices=(DeviceConfig(region_size=64 * GiB),)))
    resize(m, "64G")
    assert m.devices[0].plugged_size < 64 * GiB      # memmap no longer fits into kernel memory
    act.apply(m, act.make("alloc", size="900M", kind="kernel"))
    assert any(e.kind == Kind.OOM and "ZONE_MOVABLE" in e.text for e in m.take_events())


def test_s12_bbm_on_arm64_64k_pins_512m_per_busy_page():
    m = Machine(trace_like(arch="arm64-64k", boot_memory=2 * GiB, auto_online_blocks="online",
                           background_kernel_allocs=0, devices=(DeviceConfig(region_size=4 * GiB),)))
    resize(m, "1G")
    mb = m.drivers[0].mb_off
    c = m.mem.mb_chunks(mb).start + 100      # (the first chunks hold memory9's memmap)
    assert m.mem.alloc(1, Page.KERNEL, m.rng, at=slice(c, c + 1)) == 1
    resize(m, "0")
    assert m.devices[0].plugged_size == 512 * MiB


def test_memory_pressure_enomem_retries_and_tmpfs_can_kill_the_guest(movable_machine):
    m = movable_machine
    resize(m, "2G")
    m.guest.allocate(2200 * MiB, Page.CACHE, placement="packed")
    ev = resize(m, "0")
    assert any(e.kind == Kind.FAKE_OFFLINE_FAILED and "-ENOMEM" in e.text for e in ev)
    assert any(e.kind == Kind.RETRY and "-ENOMEM" in e.text for e in ev)
    assert 0 < m.devices[0].plugged_size < 2 * GiB          # drained what it could, then stalled
    m.guest.allocate(512 * MiB, Page.CACHE)                  # unkillable tmpfs data keeps coming
    assert m.guest.dead.startswith("System is deadlocked on memory")
    assert any(e.kind == Kind.OOM for e in m.take_events())
