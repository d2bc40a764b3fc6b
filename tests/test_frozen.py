"""Compact snapshots: a thawed machine equals the frozen one and behaves like it; unchanged
pieces are shared with the previous snapshot and all-zero pieces are not stored."""
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.frozen import PIECE, stored_bytes
from vmemlab.core.machine import Machine
from vmemlab.core.memory import Page
from vmemlab.core.units import GiB, MiB

from helpers import fingerprint, resize


def machine() -> Machine:
    return Machine(MachineConfig(boot_memory=2 * GiB, auto_online_blocks="online_movable", seed=3,
                                 devices=(DeviceConfig(region_size=1024 * GiB),)))


def test_a_thawed_machine_equals_the_frozen_one_and_runs_the_same():
    m = machine()
    resize(m, "8G")
    m.guest.allocate(512 * MiB, Page.ANON)
    m.take_events()
    frozen = m.freeze()
    a, b = frozen.thaw(), frozen.thaw()
    assert fingerprint(a) == fingerprint(m) == fingerprint(b)
    assert a.mem.pages is not b.mem.pages and a.mem.pages is not m.mem.pages
    for x in (m, a):
        x.set_requested_size(0, 1 * GiB)
        x.settle()
    assert fingerprint(a) == fingerprint(m) and [str(e) for e in a.take_events()] == [str(e) for e in m.take_events()]
    assert fingerprint(frozen.thaw()) != fingerprint(a)          # the frozen machine did not move


def test_unchanged_pieces_are_shared_and_zero_pieces_not_stored():
    m = machine()
    boot = m.freeze()
    assert stored_bytes([boot]) < m.nbytes() // 4              # a 1 TiB region, nothing plugged: zeros
    resize(m, "8G")
    plugged = m.freeze(boot)
    m.mem.pins[0] = 1                                           # one byte changes
    pinned = m.freeze(plugged)
    shared = stored_bytes([plugged, pinned])
    assert shared - stored_bytes([plugged]) <= PIECE
    assert fingerprint(pinned.thaw()) == fingerprint(m)
