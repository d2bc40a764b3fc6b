"""Zone choice when onlining: contig-zones spans, online_movable/kernel, auto-movable ratio."""
from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig
from vmemlab.core.machine import Machine
from vmemlab.core.memory import Zone
from vmemlab.core.units import GiB

from conftest import trace_like
from helpers import resize


def zones(m: Machine) -> list[int]:
    return [int(m.mem.mb_zone[mb]) for mb in range(m.mem.n_mb) if m.mem.mb_online[mb] and m.mem.mb_device[mb] >= 0]


def test_contig_zones_puts_hot_added_memory_in_normal(normal_machine):
    resize(normal_machine, "512M")
    assert set(zones(normal_machine)) == {Zone.NORMAL}


def test_contig_zones_inherits_movable_span():
    m = Machine(trace_like(auto_online_blocks="offline"))
    resize(m, "512M")
    act.apply(m, act.make("online", block=32, type="online_movable"))
    act.apply(m, act.make("online", block=35, type="online_movable"))
    act.apply(m, act.make("online", block=33))          # inside the movable span -> Movable
    assert int(m.mem.mb_zone[m.mem.phys_to_mb[33]]) == Zone.MOVABLE


def test_auto_movable_keeps_the_ratio():
    m = Machine(trace_like(online_policy="auto-movable", auto_movable_ratio=100,
                           devices=(DeviceConfig(region_size=4 * GiB),)))
    resize(m, "4G")
    z = zones(m)
    assert z.count(Zone.MOVABLE) * 100 <= 100 * (8 + z.count(Zone.NORMAL))
    assert z.count(Zone.NORMAL) > 0


def test_driver_refuses_onlining_unused_and_online_twice(normal_machine):
    m = normal_machine
    resize(m, "128M")
    import pytest
    with pytest.raises(act.ActionError, match="already online"):
        act.apply(m, act.make("online", block=32))
    with pytest.raises(act.ActionError, match="does not exist"):
        act.apply(m, act.make("online", block=40))


def _movable_ids(m: Machine) -> list[int]:
    mem = m.mem
    return [int(mem.mb_phys[mb]) for mb in range(mem.n_mb) if mem.mb_online[mb] and mem.mb_device[mb] >= 0
            and int(mem.mb_zone[mb]) == Zone.MOVABLE]


def test_auto_movable_counts_present_pages_so_memory39_goes_to_normal():
    """Recorded am-ratio100: 262014 present pages allow 7 MOVABLE blocks (229376 pages), not 8."""
    m = Machine(trace_like(online_policy="auto-movable", auto_movable_ratio=100))
    resize(m, "2G")
    assert _movable_ids(m)[:7] == list(range(32, 39))
    assert int(m.mem.mb_zone[m.mem.phys_to_mb[39]]) == Zone.NORMAL
    assert int(m.mem.mb_zone[m.mem.phys_to_mb[40]]) == Zone.MOVABLE


def test_other_groups_claim_max_0_movable_over_ratio_minus_their_kernel():
    """auto_movable_stats_account_group(): two 3 GiB devices on a 1 GiB guest cannot all be MOVABLE (6:1)."""
    m = Machine(trace_like(online_policy="auto-movable",
                           devices=(DeviceConfig("vmem0", region_size=4 * GiB), DeviceConfig("vmem1", region_size=4 * GiB))))
    resize(m, "3G", 0)
    resize(m, "3G", 1)
    movable = len(_movable_ids(m))
    kernel_blocks = 48 - movable
    assert movable * 100 <= 301 * (8 + kernel_blocks)          # within the ratio, counting kernel blocks
    assert 0 < kernel_blocks < 24 and movable > 0


def test_bbm_units_larger_than_a_block_are_decided_as_a_whole():
    m = Machine(trace_like(online_policy="auto-movable", auto_movable_ratio=100, force_bbm=True,
                           bbm_block_size=512 << 20))
    resize(m, "3G")
    zones = [int(m.mem.mb_zone[m.mem.phys_to_mb[i]]) for i in range(32, 56)]
    for bb in range(6):
        assert len(set(zones[bb * 4:bb * 4 + 4])) == 1
