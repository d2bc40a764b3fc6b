"""The Linux guest around the driver: auto-onlining, sysfs online/offline, workload.

Everything that writing ``/sys/devices/system/memory/memoryN/state`` or running a program
in the guest would do goes through here, so the driver's memory notifier sees it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from .events import Kind
from .memory import PAGES_PER_CHUNK, GuestMemory, Page, Zone, ZONE_NAMES
from .onlining import zone_for_online
from .units import PAGE_SIZE, format_size

if TYPE_CHECKING:
    from .driver import Driver


_NORMAL = int(Zone.NORMAL)


@dataclass
class GuestPolicy:
    """Memory hotplug knobs of the guest kernel (sysfs / kernel command line)."""

    auto_online_blocks: str = "online"
    online_policy: str = "contig-zones"
    auto_movable_ratio: int = 301
    auto_movable_numa_aware: bool = True


class Guest:
    """Linux: memory, onlining policy and the drivers that own hot-plugged blocks."""

    def __init__(self, mem: GuestMemory, policy: GuestPolicy, rng: np.random.Generator,
                 emit: Callable[..., None], boot_pages: dict[int, int], background_allocs: int,
                 clock) -> None:
        self.mem = mem
        self.policy = policy
        self.rng = rng
        self.emit = emit
        self.boot_pages = boot_pages
        self.background_allocs = background_allocs
        self.clock = clock
        self._memmap_text = format_size(mem.mb_size // 64)
        self.drivers: list[Driver] = []
        self.dead = ""

    def now(self) -> float:
        return self.clock.t

    def clock_tick(self, seconds: float) -> None:
        self.clock.t += seconds

    def driver_of(self, mb: int) -> Driver | None:
        dev = int(self.mem.mb_device[mb])
        return self.drivers[dev] if dev >= 0 else None

    def sysfs_id(self, mb: int) -> int:
        return int(self.mem.mb_phys[mb])

    # ----- add / online / offline -------------------------------------------------------
    def add_memory(self, mb: int, device: str) -> bool:
        """add_memory_driver_managed() + auto-onlining per ``auto_online_blocks``."""
        mem = self.mem
        if not mem.add_block(mb):
            self.emit(Kind.BLOCK_ADDED, f"adding memory{self.sysfs_id(mb)} failed (-ENOMEM): no kernel "
                      f"memory left for its {format_size(mem.mb_size // 64)} memmap", device=device,
                      memory_block=self.sysfs_id(mb))
            return False
        self.emit(Kind.BLOCK_ADDED,
                  f"memory{self.sysfs_id(mb)} added as \"System RAM (virtio_mem)\"; its memmap "
                  f"({self._memmap_text}, 64 B per 4 KiB page) now uses kernel memory",
                  device=device, memory_block=self.sysfs_id(mb), addr=int(mem.mb_phys[mb]) * mem.mb_size,
                  size=mem.mb_size)
        if self.policy.auto_online_blocks != "offline":
            self.online(mb, self.policy.auto_online_blocks, why="auto_online_blocks")
        return True

    def online(self, mb: int, online_type: str = "online", why: str = "") -> str:
        """Write online/online_kernel/online_movable to memoryN/state; returns "" or an error."""
        mem = self.mem
        sid = self.sysfs_id(mb)
        if not mem.mb_present[mb]:
            return f"memory{sid} does not exist (not added)"
        if mem.mb_online[mb]:
            return f"memory{sid} is already online"
        drv = self.driver_of(mb)
        if drv is not None:
            refusal = drv.may_online(mb)
            if refusal:
                return refusal
        zone, reason = zone_for_online(mem, mb, online_type, self.policy.online_policy,
                                       self.policy.auto_movable_ratio, self.policy.auto_movable_numa_aware,
                                       self.boot_pages)
        mem.online_block(mb, zone)
        plugged = int(np.count_nonzero(mem.plugged[mem.mb_chunks(mb)]))
        extra = "" if plugged == mem.chunks_per_mb else (
            f"; only its {plugged} plugged 2 MiB chunks go to the buddy, the rest stay PageOffline")
        by = f" by {why}" if why else ""
        self.emit(Kind.BLOCK_ONLINED, f"memory{sid} onlined{by} to ZONE_{ZONE_NAMES[zone].upper()} ({reason}){extra}",
                  device=drv.device.id if drv else "", memory_block=sid)
        if zone == Zone.NORMAL and drv is not None:
            self.background_kernel_allocs(mb)
        if drv is not None:
            drv.notify_online(mb, zone)
        return ""

    def offline(self, mb: int) -> str:
        """Write offline to memoryN/state; returns "" or the kernel's error."""
        mem = self.mem
        sid = self.sysfs_id(mb)
        if not mem.mb_present[mb]:
            return f"memory{sid} does not exist (not added)"
        if not mem.mb_online[mb]:
            return f"memory{sid} is already offline"
        drv = self.driver_of(mb)
        if drv is None:
            return f"memory{sid} is boot memory; offlining it is refused here (it holds the kernel)"
        res = mem.offline_block(mb)
        if not res.ok:
            return f"offlining memory{sid} failed with -{res.errno}: {res.reason}"
        self.emit(Kind.BLOCK_OFFLINED, f"memory{sid} offlined" +
                  (f"; {res.migrated} movable pages migrated away first" if res.migrated else ""),
                  device=drv.device.id, memory_block=sid)
        drv.notify_offline(mb)
        return ""

    def background_kernel_allocs(self, mb: int) -> None:
        """The kernel's own long-lived allocations move into the first ZONE_NORMAL memory.

        With boot memory only in DMA/DMA32 (as in the recorded traces), hot-added memory is the
        only ZONE_NORMAL, so page tables, slab and per-cpu data land there: a few low
        pageblocks of the first Normal block get unmovable pages.
        """
        if self.background_allocs <= 0:
            return
        node = int(self.mem.mb_node[mb])
        if self.mem.zone_present.get((node, _NORMAL), 0) != self.mem.chunks_per_mb * PAGES_PER_CHUNK:
            return
        sl = self.mem.mb_chunks(mb)
        low = np.flatnonzero(self.mem.chunk_online[sl][:16])
        if not len(low):
            return
        picks = self.rng.choice(low, size=min(self.background_allocs, len(low)), replace=False)
        for p in np.sort(picks):
            c = sl.start + int(p)
            self.mem.alloc(1, Page.KERNEL, self.rng, at=slice(c, c + 1))
        self.emit(Kind.ALLOC, f"kernel allocations moved into the new ZONE_NORMAL memory{self.sysfs_id(mb)}: "
                  f"unmovable pages in its pageblocks {', '.join(str(int(p)) for p in np.sort(picks))} "
                  "(modelled: the real kernel decides this non-deterministically)",
                  memory_block=self.sysfs_id(mb))

    # ----- workload ---------------------------------------------------------------------
    def allocate(self, size: int, kind: Page, node: int | None = None, placement: str = "random",
                 at: slice | None = None) -> int:
        pages = size // PAGE_SIZE
        got = self.mem.alloc(pages, kind, self.rng, node=node, placement=placement, at=at)
        what = f"{format_size(got * PAGE_SIZE)} of {kind.name.lower()} pages allocated ({placement})"
        self.emit(Kind.ALLOC, what, size=got * PAGE_SIZE)
        if got < pages:
            self.out_of_memory(kind, pages - got)
        return got

    def out_of_memory(self, kind: Page, missing: int) -> None:
        """Allocation failed: the OOM killer may kill the hog; kernel or tmpfs data cannot be killed."""
        short = format_size(missing * PAGE_SIZE)
        if kind == Page.ANON:
            killed = self.mem.free(Page.ANON, None, self.rng)
            self.emit(Kind.OOM, f"out of memory: the OOM killer killed the anonymous-memory hog "
                      f"({format_size(killed * PAGE_SIZE)} freed); {short} could not be allocated")
            return
        if kind in (Page.KERNEL, Page.SLAB, Page.MEMMAP):
            movable_free = int(self.mem.free_pages()[self.mem.chunk_zone == int(Zone.MOVABLE)].sum())
            self.emit(Kind.OOM, f"kernel allocation of {short} failed: the kernel zones are full"
                      + (f" while ZONE_MOVABLE still has {format_size(movable_free * PAGE_SIZE)} free "
                         "(zone imbalance)" if movable_free else ""))
            return
        self.dead = ("System is deadlocked on memory: tmpfs/page-cache data cannot be swapped or killed "
                     f"and {short} more did not fit")
        self.emit(Kind.OOM, f"guest out of memory. {self.dead}")
