"""First-fit pointers (core/free_space.py) decide where a search starts, never what it finds."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.free_space import FreeSpace
from vmemlab.core.machine import Machine
from vmemlab.core.memory import PAGES_PER_CHUNK, Page, Zone
from vmemlab.core.units import GiB, MiB

from helpers import resize


def skipped(mem) -> list[str]:
    """Pointers with free space (``first``) or a whole free chunk (``whole``) below them."""
    used = mem.used().astype(np.int64)
    bad = []
    for name, pointers, full in (("first", mem.space.first, used == PAGES_PER_CHUNK),
                                 ("whole", mem.space.whole, used > 0)):
        for (node, zone), at in pointers.items():
            below = slice(0, at)
            mine = mem.chunk_online[below] & (mem.chunk_zone[below] == zone) & (mem.chunk_node[below] == node)
            if not full[below][mine].all():
                bad.append(f"{name}[{node}, {zone}] = {at}")
    return bad


def machine(online: str = "online_movable", nodes: int = 1) -> Machine:
    devices = tuple(DeviceConfig(f"vmem{i}", node=i, region_size=2 * GiB) for i in range(nodes))
    return Machine(MachineConfig(boot_memory=nodes * GiB, nodes=nodes, auto_online_blocks=online, seed=5,
                                 devices=devices))


def test_a_freed_memmap_below_the_pointer_is_found_again():
    m = machine()
    resize(m, "1G")
    before = dict(m.mem.space.whole)
    resize(m, "512M")                                  # four blocks removed: their memmap chunks are free
    assert not skipped(m.mem)
    resize(m, "1G")                                    # the four new blocks take those chunks again
    assert m.mem.space.whole == before and not skipped(m.mem)


def test_migration_targets_are_the_lowest_free_pages_whatever_the_pointer():
    m = machine()
    resize(m, "1G")
    m.guest.allocate(300 * MiB, Page.ANON)
    resize(m, "256M")                                  # migrations move the pointers
    mem = m.mem
    assert mem.migrated_total and not skipped(mem)
    fresh = FreeSpace()                                # no pointers: searches start at address 0
    found = 0
    for zone in (Zone.MOVABLE, Zone.DMA32):
        a_idx, a_cnt, a_got = mem.space.take_lowest(mem, 0, int(zone), 5000)
        b_idx, b_cnt, b_got = fresh.take_lowest(mem, 0, int(zone), 5000)
        assert a_got == b_got
        if a_got:
            assert np.concatenate(a_idx).tolist() == np.concatenate(b_idx).tolist()
            assert np.concatenate(a_cnt).tolist() == np.concatenate(b_cnt).tolist()
        found += a_got
    assert found


def test_an_excluded_range_is_skipped_and_the_pointer_stays_before_it():
    m = machine()
    resize(m, "512M")
    mem, drv = m.mem, m.drivers[0]
    first_block = mem.mb_chunks(drv.mb_off)
    idx, cnt, got = mem.space.take_lowest(mem, 0, int(Zone.MOVABLE), PAGES_PER_CHUNK * 3, exclude=first_block)
    assert got == PAGES_PER_CHUNK * 3 and np.concatenate(idx).min() >= first_block.stop
    assert mem.space.first[(0, int(Zone.MOVABLE))] <= first_block.start


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["online", "online_movable"]), st.integers(1, 2),
       st.lists(st.tuples(st.sampled_from(["resize", "anon", "kernel", "free", "fragment"]), st.integers(0, 16)),
                min_size=1, max_size=12))
def test_pointers_never_skip_free_space(online, nodes, ops):
    m = machine(online, nodes)
    for op, n in ops:
        if op == "resize":
            for dev in range(nodes):
                resize(m, f"{n * 128}M", dev)
        elif op in ("anon", "kernel"):
            m.guest.allocate(n * 16 * MiB, Page.ANON if op == "anon" else Page.KERNEL)
        elif op == "free":
            m.mem.free(Page.ANON, n * 2048, m.rng)
        else:
            m.mem.alloc(n * 64, Page.SLAB, m.rng, claim="random")
        assert not skipped(m.mem), (op, n)
