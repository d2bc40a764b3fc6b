"""The guest's OOM handling explains what really ran out."""
from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Kind
from vmemlab.core.machine import Machine


def _run(m: Machine, name: str, **kw) -> list:
    act.apply(m, act.make(name, **kw))
    m.settle()
    return m.take_events()


def test_a_panic_with_zone_movable_at_its_own_min_watermark_is_not_called_zone_imbalance():
    """The recorded fill-movable guest: tmpfs fills ZONE_MOVABLE too; nothing is left anywhere."""
    m = Machine(MachineConfig(auto_online_blocks="online_movable",
                              devices=(DeviceConfig(region_size=4 << 30),)))
    _run(m, "request", size="2G")
    _run(m, "alloc", size="2300M", kind="cache", placement="packed")
    _run(m, "alloc", size="5296K", kind="kernel", placement="packed")     # tmpfs's xarray nodes
    events = _run(m, "request", size="128M")
    panic = [e.text for e in events if e.kind == Kind.OOM and "Kernel panic" in e.text]
    assert m.guest.dead and panic
    assert "zone imbalance" not in panic[0]


def test_a_panic_with_free_zone_movable_memory_is_zone_imbalance():
    """Lesson 08: kernel zones full, ZONE_MOVABLE gigabytes free."""
    m = Machine(MachineConfig(online_policy="auto-movable", devices=(DeviceConfig(region_size=8 << 30),)))
    _run(m, "request", size="2G")
    events = _run(m, "alloc", size="900M", kind="slab")
    panic = next(e.text for e in events if "Kernel panic" in e.text)
    assert "zone imbalance" in panic and "ZONE_MOVABLE still has 2G free" in panic


def test_anonymous_memory_in_zone_movable_still_needs_page_tables_in_kernel_zones():
    """Zone imbalance: ZONE_MOVABLE has room for the program, but its page tables (GFP_KERNEL)
    find every kernel zone at the min watermark; the page fault fails and the OOM killer kills it."""
    from vmemlab.core.memory import Page
    m = Machine(MachineConfig(auto_online_blocks="online_movable", devices=(DeviceConfig(region_size=4 << 30),)))
    _run(m, "request", size="2G")
    m.mem.alloc(1 << 30, Page.KERNEL, m.rng, mark="min")          # kernel zones down to their min watermarks
    events = _run(m, "alloc", size="100M", kind="anon")
    oom = [e.text for e in events if e.kind == Kind.OOM]
    assert oom and "page tables of the new anonymous memory" in oom[0] and "killed the anonymous-memory hog itself" in oom[0]
    assert m.mem.used_total[Page.ANON] == 0 and m.mem.page_tables == 0
    assert "zone imbalance" in m.guest.dead      # the kernel zones stay at min: the next kernel allocation panics
