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
