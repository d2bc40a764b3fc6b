"""virtio-balloon model: Linux's order-0 movable allocations, LIFO deflation, memmap at max, no NUMA."""
import numpy as np
import pytest

from vmemlab.core.compare.balloon import PLACEMENTS, BalloonVM, buddy_chunks, buddy_order, scatter
from vmemlab.core.config import MachineConfig
from vmemlab.core.memory import PAGES_PER_CHUNK, Page, Zone
from vmemlab.core.units import GiB, MiB

ONE_G_PAGES = GiB // 4096


def balloon(seed: int = 1, nodes: int = 1, placement: str = "buddy") -> BalloonVM:
    """A VM booted at 6 GiB (2 GiB boot + 4 GiB that virtio-mem could plug), balloon empty."""
    cfg = MachineConfig(boot_memory=2 * GiB, nodes=nodes, seed=seed)
    regions = [(n, 4 * GiB // nodes) for n in range(nodes)]
    return BalloonVM(cfg, regions, boot_target=6 * GiB, placement=placement)


def shredded(b: BalloonVM) -> None:
    """A guest that has run a while: page cache over all of RAM, most of it dropped again."""
    b.vm.guest.allocate(3 * GiB, Page.CACHE)
    b.mem.free(Page.CACHE, 2560 * MiB // 4096, b.vm.rng)


def test_linux_order_is_the_default_and_the_what_if_is_labelled():
    from vmemlab.core.compare import CompareOptions
    assert CompareOptions().balloon_placement == "buddy" == PLACEMENTS[0]
    assert balloon().placement == "buddy"


def test_fresh_guest_buddy_takes_whole_chunks_so_1g_costs_512_free_chunks_and_few_splits():
    b = balloon()
    free_before = b.mem.free_chunks_2m()
    assert b.resize(5 * GiB) == ""
    assert b.size == 5 * GiB and int(b.balloon.sum()) == ONE_G_PAGES
    assert free_before - b.mem.free_chunks_2m() == 512
    assert b.host_thp_split() <= 3   # only the partly used chunks whose fragments go first


def test_movable_zonelist_order_highest_zone_first():
    """GFP_HIGHUSER_MOVABLE: ZONE_NORMAL (above 4 GiB here) before DMA32, DMA32 before DMA."""
    b = balloon()
    b.resize(5 * GiB)
    mem = b.mem
    zones = {int(z) for z in np.unique(mem.chunk_zone[b.balloon > 0])}
    assert zones == {int(Zone.NORMAL)}
    b.resize(2 * GiB)                      # more than ZONE_NORMAL can give: DMA32 too, never DMA first
    assert (b.balloon[mem.chunk_zone == Zone.DMA32] > 0).any()
    assert b._available("low")[0, int(Zone.NORMAL)] == 0      # ZONE_NORMAL down to its low mark first


def test_smallest_free_pieces_first_on_a_guest_whose_free_memory_is_in_pieces():
    b = balloon()
    shredded(b)
    free = b.mem.free_pages()
    movable = b.mem.unmovable(slice(None)) == 0
    b.resize(5 * GiB)
    taken = b.balloon > 0
    normal = (b.mem.chunk_zone == Zone.NORMAL) & (free > 0) & movable
    # every chunk the balloon touched had no more free pages than any untouched movable chunk of its zone
    assert free[taken & normal].max() <= free[~taken & normal].min()
    assert b.host_thp_split() > 400


def test_unmovable_pageblocks_are_only_a_fallback():
    free = np.array([PAGES_PER_CHUNK, 10, 100, 5, PAGES_PER_CHUNK])
    unmov = np.array([False, False, False, True, False])
    assert buddy_chunks(free, unmov).tolist() == [1, 2, 0, 4, 3]
    assert buddy_order(115, free, unmov).tolist() == [5, 10, 100, 0, 0]


def test_the_balloon_takes_the_worker_nodes_memory_first_whatever_the_host_wanted():
    b = balloon(nodes=2)
    b.resize(5 * GiB)
    shrunk = {n: 3 * GiB - s for n, s in b.node_sizes().items()}
    assert shrunk == {0: GiB, 1: 0}


def test_the_other_node_only_once_the_worker_node_runs_low():
    b = balloon(nodes=2)
    b.resize(3 * GiB)
    shrunk = {n: 3 * GiB - s for n, s in b.node_sizes().items()}
    assert shrunk[0] > 2 * GiB and 0 < shrunk[1] < GiB
    assert not b._available("low")[0].any()                   # node 0 is at its low watermarks before node 1 is touched


def test_inflation_lowers_memtotal_and_memfree_together_and_deflation_restores_them():
    b = balloon()
    total, free, memmap = b.mem.mem_total, b.mem.mem_free, b.memmap
    b.resize(5 * GiB)
    assert total - b.mem.mem_total == GiB == free - b.mem.mem_free     # adjust_managed_page_count
    b.resize(6 * GiB)
    assert b.mem.mem_total == total and b.memmap == memmap == 6 * GiB // 64
    assert not b.balloon.any() and int(b.mem.pages[Page.RESERVED].sum()) == b.mem.used_total[Page.RESERVED]


def test_deflation_returns_the_newest_inflation_first():
    b = balloon()
    b.resize(5 * GiB)
    first = b.balloon.copy()
    b.resize(4 * GiB)
    b.resize(5 * GiB)
    assert np.array_equal(b.balloon, first)


def test_deflating_an_inflation_that_used_both_watermark_passes_gives_back_exact_counts():
    b = balloon()
    why = b.resize(0)
    assert "min watermarks" in why
    b.resize(3 * GiB)
    assert b.size == 3 * GiB
    assert np.array_equal(b.mem.pages[Page.RESERVED] >= b.balloon, np.ones(b.mem.n_chunks, bool))
    b.resize(6 * GiB)
    assert not b.balloon.any()


def test_same_seed_same_balloon_other_seed_other_balloon():
    a, b, c = (balloon(s, placement="scattered") for s in (7, 7, 8))
    for vm in (a, b, c):
        vm.resize(5 * GiB)
    assert np.array_equal(a.balloon, b.balloon) and not np.array_equal(a.balloon, c.balloon)


def test_scattered_what_if_takes_the_same_zones_but_spreads_over_their_chunks():
    s, d = balloon(placement="scattered"), balloon()
    s.resize(5 * GiB)
    d.resize(5 * GiB)
    normal = s.mem.chunk_zone == Zone.NORMAL
    assert not (normal & s.mem.chunk_online & ~s.mem.pages.any(axis=0)).any()   # no free 2 MiB left there
    assert s.host_thp_split() > 900 > 3 >= d.host_thp_split()
    per_zone = [np.bincount(v.mem.chunk_zone, weights=v.balloon, minlength=5) for v in (s, d)]
    assert np.array_equal(*per_zone)


def test_cannot_grow_beyond_the_boot_size():
    b = balloon()
    assert "cannot grow" in b.resize(7 * GiB)
    assert b.size == 6 * GiB


def test_inflation_stops_at_the_min_watermarks():
    b = balloon()
    why = b.resize(0)
    assert "free" in why and 0 < b.size < GiB
    assert not b._available("min").any()


def test_unknown_placement_names_the_choices():
    with pytest.raises(ValueError, match="buddy, scattered"):
        balloon(placement="random")


def test_spread_helpers_respect_each_chunks_free_pages():
    free = np.array([0, 10, PAGES_PER_CHUNK, 3, PAGES_PER_CHUNK])
    take = scatter(400, free, np.random.default_rng(0))
    assert take.sum() == 400 and (take <= free).all()
    packed = buddy_order(20, free)
    assert packed.tolist() == [0, 10, 7, 3, 0]
