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

from ..boot import EventSource, boot_guest, boot_memory
from ..config import MachineConfig
from ..memory import CHUNK_SIZE


@dataclass(frozen=True)
class Area:
    """A guest-physical range where memory may be hot-plugged later (QEMU's device memory)."""

    name: str
    addr: int
    size: int
    node: int


class PlainVM(EventSource):
    """Boot memory per NUMA node (online at boot) and empty hotplug areas; one seeded RNG."""

    def __init__(self, config: MachineConfig, boot_per_node: list[int], areas: tuple[Area, ...] = ()):
        super().__init__()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.areas = areas
        self.boot_size = sum(boot_per_node)
        hotplug = [(a.name, a.addr, a.size, a.node, -1) for a in areas]
        self.mem = boot_memory(config, boot_per_node, hotplug, self.rng)
        self.guest = boot_guest(config, self.mem, boot_per_node, self.rng, self)

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
