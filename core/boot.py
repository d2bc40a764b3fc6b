"""Booting a Linux guest's memory: the part every VM model shares (virtio-mem, balloon, DIMM).

Boot memory of each NUMA node is laid out from address 0 (with ``below_4g`` set, as QEMU does:
that much below 4 GiB, the rest from 4 GiB up), onlined at boot (DMA for the first 16 MiB on
x86-64, DMA32 below 4 GiB, Normal above) and charged with the firmware holes, the kernel's
reservations, the boot memmap and what the booted kernel already uses; the hot-plug ranges
given beside it stay empty until a device or DIMM adds memory there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import X86_LOW_HOLE, MachineConfig
from .events import Event, Kind
from .guest import Guest, GuestPolicy
from .memory import CHUNK_SIZE, MEMMAP_BYTES_PER_PAGE, GuestMemory, Page, Zone
from .units import GiB, MiB, PAGE_SIZE, align_up

DMA_LIMIT = 16 * MiB
FIRST_MIB = 1 * MiB


@dataclass
class Clock:
    t: float = 0.0


@dataclass
class EventSource:
    """A simulated clock and the events emitted since they were last taken."""

    clock: Clock = field(default_factory=Clock)
    pending: list[Event] = field(default_factory=list)

    def emit(self, kind: Kind, text, device: str = "", memory_block: int = -1, subblock: int = -1, addr: int = -1,
             size: int = 0, request: str = "", response: str = "", repeat: int = 1, state: str = "") -> None:
        """Log an event now (``text``: see core.events.Event); the fields by name, as Event's."""
        self.pending.append(Event(kind, text, self.clock.t, device, memory_block, subblock, addr, size, request,
                                  response, repeat, state))

    def take_events(self) -> list[Event]:
        out, self.pending = self.pending, []
        return out

    @property
    def now(self) -> float:
        return self.clock.t


@dataclass(frozen=True)
class BootRange:
    """Boot RAM of one node in one guest-physical range; ``size`` is RAM, the segment is whole blocks."""

    node: int
    addr: int
    size: int


def boot_ranges(cfg: MachineConfig, boot_per_node: list[int]) -> list[BootRange]:
    """Where each node's boot RAM lies: from address 0, node after node; with ``below_4g`` the
    RAM beyond that amount continues at 4 GiB (QEMU's PCI hole)."""
    below = cfg.below_4g or sum(boot_per_node)
    out: list[BootRange] = []
    off = 0
    for node, size in enumerate(boot_per_node):
        left = size
        while left:
            if off < below:
                n = min(left, below - off)
                out.append(BootRange(node, off, n))
            else:
                n = left
                out.append(BootRange(node, 4 * GiB + off - below if cfg.below_4g else off, n))
            off += n
            left -= n
    # A memory block shared by two nodes is modelled as the lower node's (its RAM moves over).
    mb = cfg.mb_size
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        end = align_up(a.addr + a.size, mb)
        if end > b.addr:
            moved = min(end - b.addr, b.size)
            out[i] = BootRange(a.node, a.addr, a.size + moved)
            out[i + 1] = BootRange(b.node, b.addr + moved, b.size - moved)
    return [r for r in out if r.size]


def boot_memory(cfg: MachineConfig, boot_per_node: list[int],
                hotplug: list[tuple[str, int, int, int, int]], rng: np.random.Generator) -> GuestMemory:
    """Guest memory with boot RAM online and reserved; ``hotplug``: (name, addr, size, node, device)."""
    ranges = boot_ranges(cfg, boot_per_node)
    segs = [(f"boot node {r.node}" + (f" ({r.addr:#x})" if i and ranges[i - 1].node == r.node else ""),
             r.addr, align_up(r.size, cfg.mb_size), r.node, -1) for i, r in enumerate(ranges)]
    mem = GuestMemory(cfg.mb_size, sorted(segs + list(hotplug), key=lambda s: s[1]),
                      page_size=cfg.page_size, thp=cfg.transparent_hugepage)
    x86 = cfg.arch == "x86_64"
    by_addr = {s.addr: s for s in mem.segments if s.device < 0}
    for r in ranges:
        s = by_addr[r.addr]
        chunks = slice(s.chunk_off, s.chunk_off + s.size // CHUNK_SIZE)
        ram = slice(s.chunk_off, s.chunk_off + r.size // CHUNK_SIZE)
        mem.plugged[chunks] = True
        for k in range(s.size // cfg.mb_size):
            mb = s.mb_off + k
            mem.mb_present[mb] = True
            mem.online_block(mb, Zone.DMA32 if s.addr + k * cfg.mb_size < 4 * GiB else Zone.NORMAL)
        if x86 and s.addr == 0:
            mem.set_chunk_zone(slice(s.chunk_off, s.chunk_off + min(r.size, DMA_LIMIT) // CHUNK_SIZE), Zone.DMA)
        if ram.stop < chunks.stop:      # RAM that ends inside a memory block: the rest is a hole
            _reserve_at(mem, slice(ram.stop, chunks.stop), (chunks.stop - ram.stop) * CHUNK_SIZE // PAGE_SIZE)
    present = {n: 0 for n in range(len(boot_per_node))}
    for r in ranges:
        present[r.node] += r.size // PAGE_SIZE
    # firmware holes: the first MiB's gaps (ZONE_DMA) and 128 KiB below the end of low RAM; x86-64
    # reserves the rest of the first MiB too (BIOS data, real-mode trampoline)
    low_hole = min(cfg.holes, X86_LOW_HOLE)
    top_hole = cfg.holes - low_hole
    first = ranges[0]
    first_reserved = FIRST_MIB if x86 and first.addr == 0 else low_hole
    if first_reserved:
        c0 = mem.chunk_of_addr(first.addr)
        _reserve_at(mem, slice(c0, c0 + 1), first_reserved // PAGE_SIZE)
        present[first.node] -= low_hole // PAGE_SIZE
    if top_hole:
        low_rs = [r for r in ranges if r.addr < 4 * GiB] or ranges
        last = low_rs[-1]
        c = mem.chunk_of_addr(last.addr + last.size - 1)
        _reserve_at(mem, slice(c, c + 1), top_hole // PAGE_SIZE)
        present[last.node] -= top_hole // PAGE_SIZE
    # the kernel image, memblock allocations and the boot memmap (64 B per base page)
    for node, size in enumerate(boot_per_node):
        reserved = size // cfg.page_size * MEMMAP_BYTES_PER_PAGE
        if node == 0:
            reserved += max(0, cfg.kernel_reserved - first_reserved - top_hole)
        where = [r for r in ranges if r.node == node]
        left = reserved // PAGE_SIZE
        for r in where:
            if left <= 0:
                break
            s = by_addr[r.addr]
            start = s.chunk_off + (DMA_LIMIT // CHUNK_SIZE if x86 and r.addr == 0 and r.size > DMA_LIMIT else 0)
            left -= mem.alloc(left, Page.RESERVED, rng, placement="packed",
                              at=slice(start, s.chunk_off + r.size // CHUNK_SIZE))
    mem.managed_pages -= mem.used_total[Page.RESERVED]
    # what the booted kernel already uses: unmovable, grouped into few pageblocks
    if cfg.boot_kernel_used:
        mem.alloc(cfg.boot_kernel_used // PAGE_SIZE, Page.KERNEL, rng, node=0, placement="packed")
    mem.boot_present = present
    return mem


def _reserve_at(mem: GuestMemory, sl: slice, pages: int) -> None:
    """Mark ``pages`` pages of ``sl`` as reserved (not managed by the buddy), from the top down."""
    free = mem.free_pages(sl)[::-1]
    take = np.clip(pages - np.concatenate(([0], np.cumsum(free)[:-1])), 0, free)[::-1]
    nz = np.flatnonzero(take)
    mem.add_pages(Page.RESERVED, nz + sl.start, take[nz])


def boot_guest(cfg: MachineConfig, mem: GuestMemory, boot_per_node: list[int], rng: np.random.Generator,
               events: EventSource) -> Guest:
    """The guest kernel around that memory, with the machine's hotplug policy."""
    policy = GuestPolicy(cfg.auto_online_blocks, cfg.online_policy, cfg.auto_movable_ratio,
                         cfg.auto_movable_numa_aware, cfg.movable_node)
    return Guest(mem, policy, rng, events.emit, dict(mem.boot_present), cfg.background_kernel_allocs, events.clock)
