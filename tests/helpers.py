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
