"""Small helpers for model tests: run a size, collect device requests as the traces print them."""
from __future__ import annotations

from vmemlab.core.events import Kind
from vmemlab.core.machine import Machine
from vmemlab.core.units import parse_size


def requests(events) -> list[str]:
    """Requests like the oracle's summary: 'plug[64+64]' (first device block + count)."""
    out = []
    for e in events:
        if e.kind != Kind.REQUEST:
            continue
        if e.request == "UNPLUG_ALL":
            out.append("unplug_all")
            continue
        first = (e.addr - 4 * 1024**3) // (2 * 1024**2)
        out.append(f"{e.request.lower()}[{first}+{e.size // (2 * 1024**2)}]" + ("" if e.response == "ACK" else f"={e.response}"))
    return out


def resize(m: Machine, size: str, dev: int = 0) -> list:
    m.set_requested_size(dev, parse_size(size))
    m.settle()
    return m.take_events()


def fingerprint(m: Machine) -> str:
    """sha256 over everything that decides what happens next: memory, devices, drivers, clock, RNG.
    Two machines with equal fingerprints behave identically from here on."""
    import hashlib
    import pickle

    import numpy as np

    h = hashlib.sha256()
    mem = m.mem
    for a in (mem.plugged, mem.chunk_online, mem.chunk_zone, mem.pages, mem.pins, mem.mb_present, mem.mb_online,
              mem.mb_zone):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((sorted(mem.zone_present.items()), sorted(mem.dev_present.items()), mem.managed_pages,
                   list(mem.used_total), m.clock.t, m.boot_count, m.guest.dead)).encode())
    for dev, drv in zip(m.devices, m.drivers):
        h.update(dev.bitmap.tobytes())
        h.update(repr((dev.plugged_size, dev.requested_size, dev.usable_region_size, dev.migrating)).encode())
        state = {k: v for k, v in vars(drv).items() if k not in ("guest", "mem", "device", "seg")}
        h.update(pickle.dumps(state))
    h.update(pickle.dumps(m.rng.bit_generator.state))
    return h.hexdigest()
