"""Sub Block Mode plug and unplug order, checked against what Linux 6.1 did in the traces."""
import numpy as np

from vmemlab.core.driver_sbm import MbState
from vmemlab.core.events import Kind
from vmemlab.core.memory import Page, Zone
from vmemlab.core.units import MiB

from helpers import requests, resize


def test_plug_fills_blocks_lowest_first_one_request_per_block(movable_machine):
    m = movable_machine
    assert requests(resize(m, "100M")) == ["plug[0+50]"]
    assert requests(resize(m, "300M")) == ["plug[50+14]", "plug[64+64]", "plug[128+22]"]
    drv = m.drivers[0]
    assert [MbState(s).name for s in drv.mb_state[:3]] == ["MOVABLE", "MOVABLE", "MOVABLE_PARTIAL"]


def test_memtotal_matches_the_real_guest(normal_machine):
    """MemTotal (kB) after each step of subblock-normal, as the Debian 6.1 guest reported it."""
    m = normal_machine
    assert m.mem.mem_total // 1024 == 915420
    got = []
    for size in ("100M", "300M", "130M"):
        resize(m, size)
        got.append(m.mem.mem_total // 1024)
    assert got == [1017820, 1222620, 1048540]


def test_partial_unplug_goes_subblock_by_subblock_from_the_top(movable_machine):
    m = movable_machine
    resize(m, "300M")
    ev = resize(m, "130M")
    reqs = requests(ev)
    assert reqs[:3] == ["unplug[149+1]", "unplug[148+1]", "unplug[147+1]"]
    assert len(reqs) == 85 and reqs[-1] == "unplug[65+1]"
    assert m.devices[0].plugged_size == 130 * MiB
    assert [e.memory_block for e in ev if e.kind == Kind.BLOCK_REMOVED] == [34]
    assert m.drivers[0].mb_state[2] == MbState.UNUSED and not m.mem.mb_present[m.drivers[0].mb_off + 2]


def test_fully_plugged_block_goes_in_one_request_highest_first(movable_machine):
    m = movable_machine
    resize(m, "512M")
    ev = resize(m, "256M")
    assert requests(ev) == ["unplug[192+64]", "unplug[128+64]"]
    assert [e.memory_block for e in ev if e.kind == Kind.BLOCK_REMOVED] == [35, 34]


def test_holes_filled_first_ascending(normal_machine):
    m = normal_machine
    resize(m, "130M")
    # pin subblocks 2 and 8 of memory32 with kernel pages, like the kernel did in basic-normal
    mem = m.mem
    base = m.drivers[0].seg.chunk_off
    for sb in (2, 8):
        mem.alloc(1, Page.KERNEL, m.rng, at=slice(base + sb, base + sb + 1))
    mem.free(Page.KERNEL, None, m.rng, at=slice(base + 9, base + 64))
    mem.free(Page.KERNEL, None, m.rng, at=slice(base, base + 2))
    mem.free(Page.KERNEL, None, m.rng, at=slice(base + 3, base + 8))
    resize(m, "0")
    assert m.devices[0].plugged_size == 4 * MiB
    assert m.drivers[0].timer_at is not None
    reqs = requests(resize(m, "2G"))
    assert reqs[:4] == ["plug[0+2]", "plug[3+5]", "plug[9+55]", "plug[64+64]"]


def test_offline_blocks_merge_runs_and_never_fake_offline():
    from conftest import trace_like
    from vmemlab.core.machine import Machine
    m = Machine(trace_like(auto_online_blocks="offline"))
    ev = resize(m, "300M")
    assert requests(ev) == ["plug[0+64]", "plug[64+64]", "plug[128+22]"]
    assert m.drivers[0].count[MbState.OFFLINE] == 2
    ev = resize(m, "0")
    assert requests(ev) == ["unplug[128+22]", "unplug[64+64]", "unplug[0+64]"]
    assert not any(e.kind == Kind.FAKE_OFFLINE for e in ev)
    assert m.mem.memmap_bytes == 0


def test_unmovable_page_blocks_only_its_subblock_on_normal(normal_machine):
    m = normal_machine
    resize(m, "128M")
    base = m.drivers[0].seg.chunk_off
    m.mem.free(Page.KERNEL, None, m.rng)   # remove the modelled background allocations
    m.mem.alloc(3, Page.KERNEL, m.rng, at=slice(base + 12, base + 13))
    ev = resize(m, "0")
    fails = [e for e in ev if e.kind == Kind.FAKE_OFFLINE_FAILED]
    assert any("subblock 12 holds 3 unmovable pages" in e.text for e in fails)
    assert m.devices[0].plugged_size == 2 * MiB
    assert "unplug[12+1]" not in requests(ev)
    retry = [e for e in ev if e.kind == Kind.RETRY]
    assert retry and "50 s" in retry[-1].text


def test_movable_pages_migrate_away(movable_machine):
    m = movable_machine
    resize(m, "2G")
    m.guest.allocate(600 * MiB, Page.CACHE)
    before = m.mem.used_total[Page.CACHE]
    ev = resize(m, "128M")
    assert m.devices[0].plugged_size == 128 * MiB
    assert m.mem.used_total[Page.CACHE] == before
    assert int(m.mem.pages[Page.CACHE][~m.mem.chunk_online].sum()) == 0
    assert any(e.kind == Kind.FAKE_OFFLINE and "migrated" in e.text for e in ev)


def test_partial_block_online_shows_pageoffline_chunks(movable_machine):
    m = movable_machine
    resize(m, "2M")
    mb = m.drivers[0].mb_off
    sl = m.mem.mb_chunks(mb)
    assert m.mem.mb_online[mb] and m.mem.chunk_online[sl].sum() == 1
    assert m.mem.mem_total // 1024 == 915420 + 2048
    assert m.mem.memmap_bytes == 2 * MiB
    assert int(m.mem.mb_zone[mb]) == Zone.MOVABLE
    assert np.count_nonzero(m.mem.plugged[sl]) == 1
