"""A guest without virtio-mem: boot memory plus, optionally, an empty hotplug area.

The balloon and DIMM models need the same Linux guest as virtio-mem (``GuestMemory`` and
``Guest``: zones, the onlining policy, page accounting, the workload actions) but no virtio-mem
device. ``PlainVM`` builds that guest the way ``Machine`` boots its boot memory and offers the
attributes the workload actions of ``core.actions`` use (``mem``, ``guest``, ``rng``, ``emit``,
``config``), so alloc/free/fragment/pin run unchanged on all three models.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import MachineConfig
from ..events import Event, Kind
from ..guest import Guest, GuestPolicy
from ..machine import Clock
from ..memory import CHUNK_SIZE, GuestMemory, Page, Zone
from ..units import GiB, PAGE_SIZE


@dataclass(frozen=True)
class Area:
    """A guest-physical range where memory may be hot-plugged later (QEMU's device memory)."""

    name: str
    addr: int
    size: int
    node: int


class PlainVM:
    """Boot memory per NUMA node (online at boot) and empty hotplug areas; one seeded RNG."""

    def __init__(self, config: MachineConfig, boot_per_node: list[int], areas: tuple[Area, ...] = ()):
        self.config = config
        self.clock = Clock()
        self.rng = np.random.default_rng(config.seed)
        self.pending: list[Event] = []
        segs, addr = [], 0
        for node, size in enumerate(boot_per_node):
            segs.append((f"boot node {node}", addr, size, node, -1))
            addr += size
        segs += [(a.name, a.addr, a.size, a.node, -1) for a in areas]
        segs.sort(key=lambda s: s[1])
        self.mem = GuestMemory(config.mb_size, segs)
        self.areas = areas
        self.boot_size = sum(boot_per_node)
        self._boot(boot_per_node)
        self.guest = Guest(self.mem, GuestPolicy(config.auto_online_blocks, config.online_policy,
                                                 config.auto_movable_ratio, config.auto_movable_numa_aware),
                           self.rng, self.emit, {n: s // PAGE_SIZE for n, s in enumerate(boot_per_node)},
                           config.background_kernel_allocs, self.clock)

    def _boot(self, boot_per_node: list[int]) -> None:
        """Online boot memory (DMA32 below 4 GiB, else Normal) and reserve kernel + boot memmap."""
        mem, cfg = self.mem, self.config
        boot_names = {f"boot node {n}" for n in range(len(boot_per_node))}
        for s in mem.segments:
            if s.name not in boot_names:
                continue
            chunks = slice(s.chunk_off, s.chunk_off + s.size // CHUNK_SIZE)
            mem.plugged[chunks] = True
            for k in range(s.size // cfg.mb_size):
                mb = s.mb_off + k
                mem.mb_present[mb] = True
                zone = Zone.DMA32 if s.addr + k * cfg.mb_size < 4 * GiB else Zone.NORMAL
                mem.online_block(mb, zone)
            reserved = (cfg.kernel_reserved if s.node == 0 else 0) + s.size // 64
            mem.alloc(reserved // PAGE_SIZE, Page.RESERVED, self.rng, placement="packed", at=chunks)
        mem.managed_pages -= mem.used_total[Page.RESERVED]

    # ----- what the workload actions expect of a machine ----------------------------------
    def emit(self, kind: Kind, text: str, **kw) -> None:
        self.pending.append(Event(kind, text, self.clock.t, **kw))

    def take_events(self) -> list[Event]:
        out, self.pending = self.pending, []
        return out

    @property
    def now(self) -> float:
        return self.clock.t

    @property
    def boot_memmap(self) -> int:
        """struct pages of boot memory: paid from boot on, never freed."""
        return self.boot_size // 64

    def node_sizes(self) -> dict[int, int]:
        """Guest memory per NUMA node: plugged chunks that are present (added to Linux)."""
        mem = self.mem
        present = mem.plugged & np.repeat(mem.mb_present, mem.chunks_per_mb)
        nodes = np.bincount(mem.chunk_node[present], minlength=self.config.nodes)
        return {n: int(c) * CHUNK_SIZE for n, c in enumerate(nodes)}
