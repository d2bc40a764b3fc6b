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
