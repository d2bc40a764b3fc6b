"""Guest memory: allocation by zone, migration, fake-offline, memmap accounting."""
import numpy as np
import pytest

from vmemlab.core.memory import PAGES_PER_CHUNK, Page, Zone
from vmemlab.core.units import MiB

from helpers import resize


def test_unmovable_allocations_never_land_in_zone_movable(movable_machine):
    m = movable_machine
    resize(m, "1G")
    before = m.mem.used_total[Page.KERNEL]        # what the booted kernel already uses
    m.guest.allocate(200 * MiB, Page.KERNEL)
    mem = m.mem
    movable = mem.chunk_zone == Zone.MOVABLE
    assert mem.pages[Page.KERNEL][movable].sum() == 0
    assert mem.used_total[Page.KERNEL] - before == 200 * MiB // 4096


def test_movable_allocations_prefer_zone_movable(movable_machine):
    m = movable_machine
    resize(m, "1G")
    m.guest.allocate(100 * MiB, Page.ANON)
    mem = m.mem
    assert mem.pages[Page.ANON][mem.chunk_zone == Zone.MOVABLE].sum() == 100 * MiB // 4096


def test_packed_placement_fills_lowest_addresses_first(movable_machine):
    m = movable_machine
    resize(m, "512M")
    m.guest.allocate(64 * MiB, Page.CACHE, placement="packed")
    used = np.flatnonzero(m.mem.pages[Page.CACHE])
    assert len(used) == 32 and (np.diff(used) == 1).all()


def test_fake_offline_fails_on_unmovable_and_migrates_movable(movable_machine):
    m = movable_machine
    resize(m, "256M")
    mem = m.mem
    sl = mem.mb_chunks(m.drivers[0].mb_off)
    one = slice(sl.start + 3, sl.start + 4)
    mem.alloc(100, Page.ANON, m.rng, at=one)
    res = mem.fake_offline(one, movable_zone=True)
    assert res.ok and res.migrated == 100 and not mem.chunk_online[one].any()
    assert mem.used_total[Page.ANON] == 100 and mem.pages[Page.ANON, one].sum() == 0


def test_fake_offline_enomem_when_nothing_can_take_the_pages(movable_machine):
    m = movable_machine
    resize(m, "128M")
    mem = m.mem
    free = int(mem.free_pages().sum())
    mem.alloc(free, Page.ANON, m.rng)
    sl = mem.mb_chunks(m.drivers[0].mb_off)
    res = mem.fake_offline(slice(sl.start, sl.start + 1), movable_zone=True)
    assert not res.ok and res.errno == "ENOMEM"
    assert mem.chunk_online[sl.start]


def test_memmap_is_paid_per_added_block_and_freed_on_removal(movable_machine):
    m = movable_machine
    resize(m, "2M")
    assert m.mem.memmap_bytes == 2 * MiB
    resize(m, "130M")
    assert m.mem.memmap_bytes == 4 * MiB
    resize(m, "0")
    assert m.mem.memmap_bytes == 0


def test_free_by_size_is_seeded_and_exact(movable_machine):
    m = movable_machine
    resize(m, "512M")
    m.guest.allocate(100 * MiB, Page.CACHE)
    assert m.mem.free(Page.CACHE, 10 * 256, m.rng) == 2560
    assert m.mem.used_total[Page.CACHE] == 100 * 256 - 2560
    assert m.mem.free(Page.CACHE, None, m.rng) == 100 * 256 - 2560


@pytest.mark.parametrize("kind", [Page.ANON, Page.CACHE])
def test_out_of_memory_outcomes(movable_machine, kind):
    m = movable_machine
    m.guest.allocate(4 << 30, kind)
    if kind == Page.ANON:
        assert m.mem.used_total[Page.ANON] == 0 and not m.guest.dead   # the OOM killer killed the hog
    else:
        assert m.guest.dead.startswith("System is deadlocked on memory")
    assert (m.mem.used() <= PAGES_PER_CHUNK).all()


# ----- watermarks, present pages, per-cpu lists (checked against the recorded Debian 6.1 guest) ------
def test_the_1g_guest_has_262014_present_pages_and_its_zones_managed_pages(movable_machine):
    mem = movable_machine.mem
    assert mem.boot_present == {0: 262014}             # 130 pages in the firmware holes
    assert int(mem.zone_managed[0, Zone.DMA]) == 3840 and int(mem.zone_managed[0, Zone.DMA32]) == 225015


def test_watermarks_match_the_real_guests_with_four_movable_blocks(movable_machine):
    """hog-movable's dmesg: DMA32 min 28164 kB low 35204 kB, Movable min 16404 kB, DMA min 480 kB,
    DMA lowmem_reserve 0 878 878 1390, DMA32 0 0 0 512 (khugepaged's min_free_kbytes 45056)."""
    m = movable_machine
    resize(m, "512M")
    wm = m.mem.watermarks()
    assert wm.min_free_kbytes == 45056
    assert int(wm.min[0, Zone.DMA32]) * 4 == 28164 and int(wm.low[0, Zone.DMA32]) * 4 == 35204
    assert int(wm.min[0, Zone.MOVABLE]) * 4 == 16404 and int(wm.min[0, Zone.DMA]) * 4 == 480
    assert int(wm.reserve[Zone.MOVABLE][0, Zone.DMA]) == 1390 and int(wm.reserve[Zone.NORMAL][0, Zone.DMA]) == 878
    assert int(wm.reserve[Zone.MOVABLE][0, Zone.DMA32]) == 512


def test_migration_stops_at_the_min_watermarks_not_at_zero_free(movable_machine):
    """The real hog-movable guest stopped unplugging at 512M with 135 MiB free (MemFree 138788 kB)."""
    m = movable_machine
    resize(m, "2G")
    m.guest.allocate(1200 * MiB, Page.ANON, placement="packed")
    resize(m, "128M")
    assert m.devices[0].plugged_size == 512 * MiB
    assert 100 * MiB < m.mem.mem_free < 180 * MiB
    assert m.drivers[0].timer_at is not None and not m.guest.dead


def test_freed_pages_park_on_the_per_cpu_lists_up_to_the_low_watermark(normal_machine):
    m = normal_machine
    resize(m, "1G")
    free_before = m.mem.mem_free
    m.guest.allocate(300 * MiB, Page.CACHE, placement="packed")
    m.mem.free(Page.CACHE, None, m.rng)
    parked = free_before - m.mem.mem_free
    low = int(m.mem.watermarks().low.sum()) * 4096
    assert 0 < parked <= low                  # MemFree does not count pages on the per-cpu lists
    m.mem.drain_pcp(0, int(Zone.NORMAL))
    m.mem.drain_pcp(0, int(Zone.DMA32))
    assert m.mem.mem_free == free_before


def test_a_kernel_allocation_that_cannot_be_met_panics_the_guest(normal_machine):
    m = normal_machine
    m.guest.allocate(200 * MiB, Page.ANON)
    m.guest.allocate(2 << 30, Page.SLAB)
    assert "the OOM killer killed the anonymous-memory hog" in " ".join(e.text for e in m.take_events())
    assert m.guest.dead.startswith("System is deadlocked on memory")


def test_memmap_of_a_64k_page_arm64_block_is_64_bytes_per_64k_page():
    from vmemlab.core.config import DeviceConfig, MachineConfig
    from vmemlab.core.machine import Machine
    m = Machine(MachineConfig(arch="arm64-64k", boot_memory=2 << 30, devices=(DeviceConfig(region_size=4 << 30),)))
    events = resize(m, "512M")
    assert m.mem.memmap_bytes == 512 * 1024
    assert "its memmap (512K, 64 B per 64 KiB page)" in " ".join(e.text for e in events)


def test_unmovable_allocations_are_grouped_into_few_pageblocks(normal_machine):
    m = normal_machine
    resize(m, "1G")
    before = m.mem.unmovable(slice(None)) > 0
    m.guest.allocate(20 * MiB, Page.KERNEL)
    touched = int(((m.mem.unmovable(slice(None)) > 0) & ~before).sum())
    assert touched <= 11                      # 20 MiB fills about 10 pageblocks, not one page in each of 512


# ----- page tables of anonymous memory (x86-64: one 4 KiB page-table page maps 2 MiB) --------------
def test_anonymous_memory_brings_one_page_table_page_per_2m_in_kernel_zones(movable_machine):
    m = movable_machine
    resize(m, "1G")
    mem = m.mem
    kernel = mem.used_total[Page.KERNEL]
    m.guest.allocate(600 * MiB + 4096, Page.ANON)
    assert mem.page_tables == 301 == mem.used_total[Page.KERNEL] - kernel      # ceil(153601 / 512)
    where = np.array(sorted(mem.page_table_at))
    assert (mem.chunk_zone[where] != Zone.MOVABLE).all()                          # GFP_KERNEL: never ZONE_MOVABLE
    assert (mem.pages[Page.ANON][mem.chunk_zone == Zone.MOVABLE].sum()) == 153601


def test_page_tables_go_with_their_memory_and_a_kernel_free_leaves_them(normal_machine):
    m = normal_machine
    resize(m, "1G")
    mem = m.mem
    kernel = mem.used_total[Page.KERNEL]
    m.guest.allocate(100 * MiB, Page.ANON)
    assert mem.page_tables == 50
    mem.free(Page.KERNEL, None, m.rng)                     # the kernel's other pages: not the page tables
    assert mem.page_tables == 50 == mem.used_total[Page.KERNEL]
    mem.free(Page.ANON, 40 * MiB // 4096, m.rng)
    assert mem.page_tables == 30 == mem.used_total[Page.KERNEL]
    mem.free(Page.ANON, None, m.rng)
    assert mem.page_tables == 0 == mem.used_total[Page.KERNEL] and not mem.page_table_at
    assert kernel > 0


def test_page_tables_are_allocated_before_the_pages_they_map(normal_machine):
    """A page fault allocates the page table first: it lands in a pageblock that already holds
    unmovable pages (mobility grouping), before the packed anonymous pages fill that pageblock."""
    m = normal_machine
    resize(m, "1G")
    mem = m.mem
    unmovable_before = set(np.flatnonzero(mem.unmovable(slice(None))).tolist())
    m.guest.allocate(600 * MiB, Page.ANON, placement="packed")
    assert set(mem.page_table_at) <= unmovable_before
    assert int(np.count_nonzero(mem.unmovable(slice(None)))) == len(unmovable_before)


def test_the_oom_killer_frees_the_hogs_page_tables(normal_machine):
    m = normal_machine
    resize(m, "1G")
    mem = m.mem
    m.guest.allocate(300 * MiB, Page.ANON)
    events = m.take_events()
    assert "150 page-table pages (600K: one 4 KiB page per 2M)" in events[-1].text
    m.guest.allocate(int(mem.free_pages().sum()) * 4096, Page.CACHE)     # the OOM killer picks the hog
    texts = " ".join(e.text for e in m.take_events() if e.kind.value == "oom")
    assert "killed the anonymous-memory hog" in texts and "and its 600K of page tables" in texts
    assert mem.page_tables == 0 and mem.used_total[Page.ANON] == 0


# ----- pages put back after a failed migration wait in the per-CPU LRU-add batch ------------------
def _fill_all_but(m, chunk: int) -> None:
    """Anonymous pages everywhere else, so that migrating ``chunk``'s pages away runs out of room."""
    mem = m.mem
    mem.alloc(int(mem.free_pages().sum()), Page.ANON, m.rng, mark=None)


@pytest.mark.parametrize("zone", ["normal", "movable"])
def test_right_after_a_failed_migration_isolation_fails_with_ebusy_in_kernel_zones(zone, normal_machine,
                                                                                   movable_machine):
    m = normal_machine if zone == "normal" else movable_machine
    resize(m, "256M")
    mem = m.mem
    sl = mem.mb_chunks(m.drivers[0].mb_off + 1)
    _fill_all_but(m, sl.start)
    first = mem.fake_offline(sl, movable_zone=zone == "movable")
    assert not first.ok and first.errno == "ENOMEM"
    again = mem.fake_offline(sl, movable_zone=zone == "movable")
    if zone == "normal":              # has_unmovable_pages(): a page off the LRU with a reference is unmovable
        assert again.errno == "EBUSY" and "LRU-add batch" in again.reason
    else:                             # ZONE_MOVABLE pageblocks are not checked
        assert again.errno == "ENOMEM"
    mem.drain_lru_batch()
    assert mem.fake_offline(sl, movable_zone=zone == "movable").errno == "ENOMEM"
