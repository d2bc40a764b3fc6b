"""Booting a Linux guest's memory: the part every VM model shares (virtio-mem, balloon, DIMM).

Boot memory of each NUMA node is laid out from address 0, onlined at boot (DMA32 below 4 GiB,
Normal above) and charged with the kernel's reservations and the boot memmap; the hot-plug
ranges given beside it stay empty until a device or DIMM adds memory there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import MachineConfig
from .events import Event, Kind
from .guest import Guest, GuestPolicy
from .memory import CHUNK_SIZE, GuestMemory, Page, Zone
from .units import GiB, PAGE_SIZE


@dataclass
class Clock:
    t: float = 0.0


@dataclass
class EventSource:
    """A simulated clock and the events emitted since they were last taken."""

    clock: Clock = field(default_factory=Clock)
    pending: list[Event] = field(default_factory=list)

    def emit(self, kind: Kind, text: str, **kw) -> None:
        self.pending.append(Event(kind, text, self.clock.t, **kw))

    def take_events(self) -> list[Event]:
        out, self.pending = self.pending, []
        return out

    @property
    def now(self) -> float:
        return self.clock.t


def boot_memory(cfg: MachineConfig, boot_per_node: list[int],
                hotplug: list[tuple[str, int, int, int, int]], rng: np.random.Generator) -> GuestMemory:
    """Guest memory with boot RAM online and reserved; ``hotplug``: (name, addr, size, node, device)."""
    segs, addr = [], 0
    for node, size in enumerate(boot_per_node):
        segs.append((f"boot node {node}", addr, size, node, -1))
        addr += size
    boot_names = {s[0] for s in segs}
    mem = GuestMemory(cfg.mb_size, sorted(segs + list(hotplug), key=lambda s: s[1]))
    for s in mem.segments:
        if s.name not in boot_names:
            continue
        chunks = slice(s.chunk_off, s.chunk_off + s.size // CHUNK_SIZE)
        mem.plugged[chunks] = True
        for k in range(s.size // cfg.mb_size):
            mb = s.mb_off + k
            mem.mb_present[mb] = True
            mem.online_block(mb, Zone.DMA32 if s.addr + k * cfg.mb_size < 4 * GiB else Zone.NORMAL)
        reserved = (cfg.kernel_reserved if s.node == 0 else 0) + s.size // 64
        mem.alloc(reserved // PAGE_SIZE, Page.RESERVED, rng, placement="packed", at=chunks)
    mem.managed_pages -= mem.used_total[Page.RESERVED]
    return mem


def boot_guest(cfg: MachineConfig, mem: GuestMemory, boot_per_node: list[int], rng: np.random.Generator,
               events: EventSource) -> Guest:
    """The guest kernel around that memory, with the machine's hotplug policy."""
    policy = GuestPolicy(cfg.auto_online_blocks, cfg.online_policy, cfg.auto_movable_ratio,
                         cfg.auto_movable_numa_aware)
    boot_pages = {n: size // PAGE_SIZE for n, size in enumerate(boot_per_node)}
    return Guest(mem, policy, rng, events.emit, boot_pages, cfg.background_kernel_allocs, events.clock)
