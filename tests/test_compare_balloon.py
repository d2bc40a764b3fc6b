"""virtio-balloon model: scattered 4 KiB inflation, LIFO deflation, memmap at max, no NUMA."""
import numpy as np
import pytest

from vmemlab.core.compare.balloon import BalloonVM, buddy_order, scatter
from vmemlab.core.config import MachineConfig
from vmemlab.core.memory import PAGES_PER_CHUNK, Page
from vmemlab.core.units import GiB, MiB

ONE_G_PAGES = GiB // 4096


def balloon(seed: int = 1, nodes: int = 1, placement: str = "scattered") -> BalloonVM:
    """A VM booted at 6 GiB (2 GiB boot + 4 GiB that virtio-mem could plug), balloon empty."""
    cfg = MachineConfig(boot_memory=2 * GiB, nodes=nodes, seed=seed)
    regions = [(n, 4 * GiB // nodes) for n in range(nodes)]
    return BalloonVM(cfg, regions, boot_target=6 * GiB, placement=placement)


def test_scattered_inflation_of_1g_leaves_no_free_2m_chunk_and_splits_host_huge_pages():
    b = balloon()
    free_before = b.mem.free_chunks_2m()
    assert b.resize(5 * GiB) == ""
    assert b.size == 5 * GiB and int(b.balloon.sum()) == ONE_G_PAGES
    assert free_before > 2800 and b.mem.free_chunks_2m() == 0
    assert b.host_thp_split() > 2800


def test_buddy_order_takes_whole_chunks_so_1g_costs_exactly_512_free_chunks():
    b = balloon(placement="buddy")
    free_before = b.mem.free_chunks_2m()
    b.resize(5 * GiB)
    assert free_before - b.mem.free_chunks_2m() == 512
    assert b.host_thp_split() <= 3   # only the partly used chunks whose fragments go first


def test_inflation_lowers_memtotal_and_deflation_restores_it_exactly():
    b = balloon()
    total, memmap = b.mem.mem_total, b.memmap
    b.resize(5 * GiB)
    assert total - b.mem.mem_total == GiB
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


def test_same_seed_same_balloon_other_seed_other_balloon():
    a, b, c = balloon(7), balloon(7), balloon(8)
    for vm in (a, b, c):
        vm.resize(5 * GiB)
    assert np.array_equal(a.balloon, b.balloon) and not np.array_equal(a.balloon, c.balloon)


def test_balloon_is_not_numa_aware():
    b = balloon(nodes=2)
    b.resize(5 * GiB)
    shrunk = {n: 3 * GiB - s for n, s in b.node_sizes().items()}
    assert sum(shrunk.values()) == GiB
    assert all(s > 256 * MiB for s in shrunk.values())


def test_cannot_grow_beyond_the_boot_size():
    b = balloon()
    assert "cannot grow" in b.resize(7 * GiB)
    assert b.size == 6 * GiB


def test_inflation_stops_at_free_memory():
    b = balloon()
    why = b.resize(0)
    assert "free" in why and 0 < b.size < GiB


def test_unknown_placement_names_the_choices():
    with pytest.raises(ValueError, match="scattered, buddy"):
        balloon(placement="random")


def test_spread_helpers_respect_each_chunks_free_pages():
    free = np.array([0, 10, PAGES_PER_CHUNK, 3, PAGES_PER_CHUNK])
    take = scatter(400, free, np.random.default_rng(0))
    assert take.sum() == 400 and (take <= free).all()
    packed = buddy_order(20, free)
    assert packed.tolist() == [0, 10, 7, 3, 0]
