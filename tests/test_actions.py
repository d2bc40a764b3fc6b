"""Actions check every argument before they touch the machine or its RNG.

A refused action raises ActionError and leaves the whole machine, the RNG included, exactly as
it was (compared by fingerprint); no argument, however malformed, raises anything else.
"""
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmemlab.core import actions as act
from vmemlab.core.actions import ACTIONS, ActionError
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.fingerprint import digest
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, MiB

STATE = frozenset({"pending"})


def machine(*steps: tuple, **config) -> Machine:
    m = Machine(MachineConfig(**config))
    for name, args in steps:
        act.apply(m, act.make(name, **args))
        m.settle()
    m.take_events()
    return m


@functools.cache
def machines() -> dict[str, Machine]:
    movable = {"auto_online_blocks": "online_movable"}
    return {
        "fresh": machine(),
        "plugged, anon pages": machine(("request", {"size": "1G"}), ("alloc", {"size": "600M"}), **movable),
        "fully plugged": machine(("request", {"size": "4G"}), **movable),
        "migrating": machine(("request", {"size": "512M"}), ("migration", {"on": "on"}),
                             ("request", {"size": "1G"}), **movable),
        "broken driver": machine(("request", {"size": "256M"}), ("buggy_request", {"kind": "misaligned"})),
        "dead guest": machine(("request", {"size": "256M"}), ("alloc", {"size": "8G", "kind": "cache"})),
        "two nodes, two devices": machine(("request", {"size": "1G", "device": "b"}), nodes=2, boot_memory=2 << 30,
                                          devices=(DeviceConfig(id="a"), DeviceConfig(id="b", node=1, addr=16 << 30))),
    }


def refused_without_a_change(m: Machine, name: str, **raw) -> str:
    before = digest(m, STATE)
    with pytest.raises(ActionError) as e:
        act.apply(m, act.make(name, **raw))
    assert digest(m, STATE) == before
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("state, name, raw, words", [
    ("plugged, anon pages", "pin", {"tries": 256}, "pin.tries: 256 is not allowed; allowed: 1 to 255"),
    ("plugged, anon pages", "pin", {"tries": -1}, "pin.tries: -1 is not allowed"),
    ("plugged, anon pages", "pin", {"tries": 0}, "pin.tries: 0 is not allowed"),
    ("plugged, anon pages", "pin", {"size": "1M"}, "pin.size: 1M is not a whole number of 2M pageblocks"),
    ("fully plugged", "buggy_request", {"kind": "double_unplug"}, "every block of vmem0's usable region is plugged"),
    ("fresh", "buggy_request", {"kind": "double_plug"}, "double_plug needs a plugged device block"),
    ("fresh", "fragment", {"node": 7}, "fragment.node: 7 does not exist; allowed: 0 to 0"),
    ("fresh", "fragment", {"node": 8}, "fragment.node: 8 is not allowed; allowed: 0 to 7"),
    ("fresh", "alloc", {"size": 1}, "alloc.size: 1B is not a whole number of 4K pages"),
    ("fresh", "alloc", {"size": "300M", "node": 3}, "alloc.node: 3 does not exist"),
    ("fresh", "alloc", {"size": "4K", "addr": 1 << 63}, "is not inside guest RAM"),
    ("fresh", "free", {"size": "0"}, "free.size: 0 is not allowed"),
    ("fresh", "advance", {"seconds": float("nan")}, "advance.seconds: nan is not allowed"),
    ("fresh", "advance", {"seconds": 10 ** 400}, "advance.seconds"),
    ("fresh", "step", {"count": 10 ** 40}, "step.count"),
    ("fresh", "online", {"block": 10 ** 30}, "online.block: memory1000000000000000000000000000000 is not guest RAM; allowed: memory0 to memory7, memory32 to memory63"),
    ("fresh", "request", {"size": "16777216T"}, "too large"),
    ("dead guest", "pin", {}, "the guest is dead"),
])
def test_refused_actions_name_the_field_and_change_nothing(state, name, raw, words):
    m = machines()[state].snapshot()
    assert words in refused_without_a_change(m, name, **raw)


def test_a_refused_pin_leaves_the_rng_where_it_was():
    """Issue 13: pin tries=300 advanced the RNG before numpy refused the value."""
    m = machines()["plugged, anon pages"].snapshot()
    state = m.rng.bit_generator.state
    refused_without_a_change(m, "pin", tries=300)
    assert m.rng.bit_generator.state == state


GOOD = {"size": ["2M", "64M", "1G", "4K"], "int": [0, 1, 2, 7], "float": [0.5, 1, 30.0],
        "bool": [True, False], "str": ["vmem0", "b", "a note"]}
BAD = [None, -1, 0, 10 ** 40, 1.5, float("inf"), float("nan"), True, "", "3X", "²", "١٢", "9" * 5000,
       "-0x10", [], {}, "0" * 60]


def values(p: act.Param):
    good = list(p.choices) if p.kind == "choice" else GOOD.get(p.kind, [])
    return st.sampled_from(good + BAD)


@st.composite
def raw_actions(draw):
    name = draw(st.sampled_from(list(ACTIONS)))
    raw = {p.name: draw(values(p)) for p in ACTIONS[name].params if draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        raw[draw(st.sampled_from(["colour", "sizes", "Size"]))] = 1
    return name, {k: v for k, v in raw.items() if v is not None}


@settings(max_examples=400, deadline=None)
@given(state=st.sampled_from(["fresh", "plugged, anon pages", "fully plugged", "migrating", "broken driver",
                              "dead guest", "two nodes, two devices"]), action=raw_actions())
def test_any_arguments_give_a_valid_action_or_an_error_that_changes_nothing(state, action):
    name, raw = action
    m = machines()[state].snapshot()
    before = digest(m, STATE)
    try:
        a = act.make(name, **raw)
    except ActionError as e:
        assert "\n" not in str(e) and len(str(e)) < 600
        return
    try:
        act.apply(m, a)
    except ActionError as e:
        assert digest(m, STATE) == before, f"{a.label()} was refused ({e}) but changed the machine"


# ----- alloc at an address: only where there is online memory with room -------------------------
def fingerprint(m: Machine) -> str:
    return digest(m, STATE)


@pytest.mark.parametrize("kind", ["kernel", "anon"])
@pytest.mark.parametrize("addr", [4 * GiB + 2 * MiB, 4 * GiB + 130 * MiB, 1 * GiB - 2 * MiB])
def test_alloc_at_an_address_that_is_not_online_memory_is_refused(kind, addr):
    """Unplugged device memory (not added, or an unplugged subblock) and a range running past the
    end of boot memory hold no pages the guest could allocate: refused, not an OOM panic."""
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="2M"))
    m.settle()
    m.take_events()
    before = fingerprint(m)
    with pytest.raises(ActionError, match="alloc.addr: .* online"):
        act.apply(m, act.make("alloc", size="4M", kind=kind, addr=addr))
    assert fingerprint(m) == before and not m.take_events()


def test_alloc_at_online_memory_works():
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="4M"))
    m.settle()
    act.apply(m, act.make("alloc", size="4K", kind="kernel", addr=4 * GiB + 2 * MiB))
    assert not m.guest.dead and m.mem.unmovable(slice(None)).sum() >= 1


def test_alloc_at_a_full_range_is_refused_not_an_oom():
    """memory32's first pageblocks hold the memmap of the blocks added after it: no room there."""
    m = Machine(MachineConfig(auto_online_blocks="online", devices=(DeviceConfig(region_size=4 * GiB),)))
    act.apply(m, act.make("request", size="512M"))
    m.settle()
    assert m.mem.used()[m.mem.chunk_of_addr(4 * GiB)] == 512
    before = fingerprint(m)
    with pytest.raises(ActionError, match="alloc.addr: .* free"):
        act.apply(m, act.make("alloc", size="4K", kind="kernel", addr=4 * GiB))
    assert fingerprint(m) == before


def _worst_fragment_reading_every_chunk(m: Machine, percent: float) -> None:
    """The worst-case fragment as it read the whole region before it kept to the kernel zones."""
    import numpy as np

    from vmemlab.core.memory import PAGES_PER_CHUNK, Page, Zone
    mem = m.mem
    kernel = mem.chunk_online & np.isin(mem.chunk_zone, (Zone.NORMAL, Zone.DMA32))
    pages = int(int(kernel.sum()) * PAGES_PER_CHUNK * percent / 100)
    free = np.where(kernel, PAGES_PER_CHUNK - mem.used(), 0)
    cand = np.flatnonzero(free)
    first = cand if pages >= len(cand) else np.sort(m.rng.choice(cand, size=pages, replace=False))
    take = np.zeros(len(mem.plugged), dtype=np.int64)
    take[first] = 1
    left = pages - len(first)
    if left > 0:
        room = free[cand] - 1
        take[cand] += mem.spread(min(left, int(room.sum())), room, m.rng, "random")
    idx = np.flatnonzero(take)
    mem.add_pages(Page.KERNEL, idx, take[idx])


@pytest.mark.parametrize("online", ["online", "online_movable"])
@pytest.mark.parametrize("percent", [0.5, 30.0, 50.0])
def test_fragment_reads_only_the_kernel_zones_and_places_the_same_pages(online, percent):
    """fragment reads only the chunks where kernel zones ever lay (0.4 s -> 10 ms at 64 TiB onlined
    to ZONE_MOVABLE); the pages it places are those reading every chunk placed."""
    steps = (("request", {"size": "3G"}), ("alloc", {"size": "1G", "kind": "anon"}))
    a, b = machine(*steps, auto_online_blocks=online), machine(*steps, auto_online_blocks=online)
    act.apply(a, act.make("fragment", percent=percent, spread="worst"))
    _worst_fragment_reading_every_chunk(b, percent)
    assert (a.mem.pages == b.mem.pages).all() and a.rng.bit_generator.state == b.rng.bit_generator.state
    assert (a.mem.pages[2] > 0).sum() > 0
