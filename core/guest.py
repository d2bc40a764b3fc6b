"""The Linux guest around the driver: auto-onlining, sysfs online/offline, workload.

Everything that writing ``/sys/devices/system/memory/memoryN/state`` or running a program
in the guest would do goes through here, so the driver's memory notifier sees it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from .events import Kind, text_formatter
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
    movable_node: bool = False


def added_text(sid: int, memmap: str, page: str) -> str:
    return (f"memory{sid} added as \"System RAM (virtio_mem)\"; its memmap ({memmap}, 64 B per {page} page) "
            "now uses kernel memory")


def onlined_text(sid: int, why: str, zone: str, reason: str, extra: str) -> str:
    by = f" by {why}" if why else ""
    return f"memory{sid} onlined{by} to ZONE_{zone.upper()} ({reason}){extra}"


# built when read (core.events.Event): a plug adds and onlines tens of thousands of blocks
ADDED_TEXT = text_formatter(added_text)
ONLINED_TEXT = text_formatter(onlined_text)


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
        self._memmap_text = format_size(mem.memmap_per_block)
        self._page_text = format_size(mem.page_size).replace("K", " KiB")
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
                      f"memory left (above the min watermarks) for its {self._memmap_text} memmap", device=device,
                      memory_block=self.sysfs_id(mb))
            return False
        sid = self.sysfs_id(mb)
        self.emit(Kind.BLOCK_ADDED, (ADDED_TEXT, sid, self._memmap_text, self._page_text), device, sid, -1,
                  sid * mem.mb_size, mem.mb_size)
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
        zone, reason = self.zone_for(mb, online_type, drv)
        plugged = mem.online_block(mb, zone)
        extra = "" if plugged == mem.chunks_per_mb else (
            f"; only its {plugged} plugged 2 MiB chunks go to the buddy, the rest stay PageOffline")
        self.emit(Kind.BLOCK_ONLINED, (ONLINED_TEXT, sid, why, ZONE_NAMES[zone], reason, extra),
                  drv.device.id if drv else "", sid)
        if zone == Zone.NORMAL and drv is not None:
            self.background_kernel_allocs(mb)
        if drv is not None:
            drv.notify_online(mb, zone)
        return ""

    def zone_for(self, mb: int, online_type: str = "online", drv: Driver | None = None) -> tuple:
        """The zone onlining ``mb`` would pick, and why (the policy of mm/memory_hotplug.c)."""
        drv = drv or self.driver_of(mb)
        pol = self.policy
        return zone_for_online(self.mem, mb, online_type, pol.online_policy, pol.auto_movable_ratio,
                               pol.auto_movable_numa_aware, self.boot_pages, pol.movable_node,
                               drv.unit_blocks(mb) if drv is not None and pol.online_policy == "auto-movable" else None)

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
        # the kernel runs on node 0's CPUs: a hot-added node 1 gets only its own memmap (recorded numa traces)
        if node != 0 or self.mem.zone_present.get((node, _NORMAL), 0) != self.mem.chunks_per_mb * PAGES_PER_CHUNK:
            return
        sl = self.mem.mb_chunks(mb)
        low = np.flatnonzero(self.mem.chunk_online[sl][:16])
        if not len(low):
            return
        picks = self.rng.choice(low, size=min(self.background_allocs, len(low)), replace=False)
        for p in np.sort(picks):
            c = sl.start + int(p)
            self.mem.alloc(1, Page.KERNEL, self.rng, at=slice(c, c + 1))
        self.emit(Kind.ALLOC, "new long-lived kernel allocations land in the new ZONE_NORMAL "
                  f"memory{self.sysfs_id(mb)}: "
                  f"unmovable pages in its pageblocks {', '.join(str(int(p)) for p in np.sort(picks))} "
                  "(modelled: the real kernel decides this non-deterministically)",
                  memory_block=self.sysfs_id(mb))

    # ----- workload ---------------------------------------------------------------------
    def allocate(self, size: int, kind: Page, node: int | None = None, placement: str = "random",
                 at: slice | None = None) -> int:
        """A program or the kernel allocates ``size`` of ``kind``.

        The fast path takes pages down to each zone's low watermark; with nothing reclaimable
        (no swap: anonymous and tmpfs pages stay) the slow path goes down to the min watermark;
        beyond that the OOM killer runs (see ``out_of_memory``).
        """
        pages = size // PAGE_SIZE
        mem = self.mem
        mem.drain_lru_batch()
        tables = self._page_tables(pages) if kind == Page.ANON else ""
        got = mem.alloc(pages, kind, self.rng, node=node, placement=placement, at=at, mark="low")
        pressure = got < pages
        if pressure:
            got += mem.alloc(pages - got, kind, self.rng, node=node, placement=placement, at=at, mark="min")
        if kind == Page.ANON and got < pages:
            mem.free_page_tables()           # the page tables of what could not be mapped go again
        what = f"{format_size(got * PAGE_SIZE)} of {kind.name.lower()} pages allocated ({placement})"
        if pressure:
            what += "; the zones reached their low watermarks, so the rest came from the reserves down to min"
        self.emit(Kind.ALLOC, what + tables, size=got * PAGE_SIZE)
        if kind == Page.ANON and mem.page_tables < mem.page_tables_needed():
            killed = self._kill_hog()
            self.emit(Kind.OOM, "out of memory: the page tables of the new anonymous memory found every kernel "
                      "zone at its min watermark (page tables are kernel memory, even for memory in ZONE_MOVABLE); "
                      f"the page fault failed and the OOM killer killed the anonymous-memory hog itself ({killed})")
            self.memory_pressure()
            return 0
        if got < pages:
            got += self.out_of_memory(kind, pages - got, node, placement, at)
        elif pressure:
            self.memory_pressure()
        return got

    def _page_tables(self, pages: int) -> str:
        """A page fault allocates the page table (GFP_KERNEL: down to low, then min) before the page
        it maps: the page tables for ``pages`` more anonymous pages. Returns what to tell about them."""
        mem = self.mem
        before = mem.page_tables
        mem.alloc_page_tables(self.rng, "low", pages)
        if mem.page_tables < mem.page_tables_needed(pages):
            mem.alloc_page_tables(self.rng, "min", pages)
        added = mem.page_tables - before
        if not added:
            return ""
        return (f"; to map it, {added} page-table pages ({format_size(added * PAGE_SIZE)}: one "
                f"{self._page_text} page per {format_size(mem.page_table_span)}) are allocated as unmovable kernel "
                "memory (GFP_KERNEL: never in ZONE_MOVABLE; grouped into unmovable pageblocks)")

    def _kill_hog(self) -> str:
        """The OOM killer kills the anonymous-memory hog: its pages and page tables are freed."""
        tables = self.mem.page_tables
        killed = self.mem.free(Page.ANON, None, self.rng)
        tables -= self.mem.page_tables
        return (f"{format_size(killed * PAGE_SIZE)} freed" +
                (f", and its {format_size(tables * PAGE_SIZE)} of page tables" if tables else ""))

    def out_of_memory(self, kind: Page, missing: int, node: int | None = None, placement: str = "random",
                      at: slice | None = None) -> int:
        """Every zone is at its min watermark: the OOM killer picks the largest process.

        The only large killable process in the model is the anonymous-memory hog. Killing it frees
        its pages; the allocation is then retried. Without it: an allocating user program (dd into
        tmpfs) is killed itself and its data stays; a kernel allocation (small GFP_KERNEL requests
        do not fail) finds nothing killable and the kernel panics.
        Returns how many more pages the retry got.
        """
        short = format_size(missing * PAGE_SIZE)
        mem = self.mem
        if mem.used_total[Page.ANON] and kind != Page.ANON:
            killed = self._kill_hog()
            self.emit(Kind.OOM, f"out of memory ({short} of {kind.name.lower()} pages did not fit above the min "
                      f"watermarks): the OOM killer killed the anonymous-memory hog, {killed}")
            got = mem.alloc(missing, kind, self.rng, node=node, placement=placement, at=at, mark="min")
            if got < missing:
                return got + self.out_of_memory(kind, missing - got, node, placement, at)
            return got
        if kind == Page.ANON:
            killed = self._kill_hog()
            self.emit(Kind.OOM, f"out of memory: the OOM killer killed the anonymous-memory hog itself "
                      f"({killed}); {short} could not be allocated")
            return 0
        if kind == Page.CACHE:
            self.emit(Kind.OOM, f"out of memory: {short} of tmpfs/page-cache data did not fit; the OOM killer "
                      "killed the writing program (its data stays: tmpfs pages cannot be swapped or killed)")
            self.memory_pressure()
            return 0
        self.panic(f"a kernel allocation of {short} found every kernel zone at its min watermark"
                   + self._imbalance_note())
        return 0

    def _imbalance_note(self) -> str:
        """Zone imbalance only if ZONE_MOVABLE could still serve a user page (above its min watermark)."""
        if not self.mem.headroom(Zone.MOVABLE):
            return ""
        movable_free = int(self.mem.zone_free()[:, int(Zone.MOVABLE)].sum())
        return (f" while ZONE_MOVABLE still has {format_size(movable_free * PAGE_SIZE)} free (zone imbalance: "
                "kernel allocations cannot use ZONE_MOVABLE)" if movable_free > 1024 else "")

    def memory_pressure(self) -> None:
        """After memory ran low (a failed migration, the slow path): can the kernel still allocate?

        Modelled: the guest's routine kernel allocations (a fork, a page table) continue; if no
        kernel zone is above its min watermark they invoke the OOM killer, and with nothing
        killable the kernel panics, as the recorded oom-normal guest did.
        """
        if self.dead:
            return
        mem = self.mem
        short = [what for cls, what in ((Zone.NORMAL, "kernel"), (Zone.MOVABLE, "user"))
                 if not mem.headroom(cls)]
        if not short:
            return
        which = " and ".join(short)
        if mem.used_total[Page.ANON]:
            killed = self._kill_hog()
            self.emit(Kind.OOM, f"every zone a {which} page may use is at its min watermark: the next such allocation "
                      "(modelled: the guest's routine forks and page tables) invoked the OOM killer, which killed "
                      f"the anonymous-memory hog ({killed})")
            if mem.headroom(Zone.NORMAL) and mem.headroom(Zone.MOVABLE):
                return
        self.panic(f"every zone a {which} page may use is at its min watermark and the next such allocation "
                   "(modelled: the guest's routine forks and page tables) found no killable process"
                   + self._imbalance_note())

    def panic(self, why: str) -> None:
        self.dead = ("System is deadlocked on memory: " + why + "; tmpfs/page-cache data and kernel memory "
                     "cannot be swapped or killed")
        self.emit(Kind.OOM, f"Out of memory and no killable processes... Kernel panic - not syncing: {self.dead}")
