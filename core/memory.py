"""Linux guest memory: memory blocks, zones and 4 KiB page accounting per 2 MiB chunk.

A *chunk* is one 2 MiB pageblock, the unit the buddy allocator can isolate and the smallest
virtio-mem subblock on x86-64. Per chunk we count pages by kind (numpy arrays, never
per-page Python objects). Memory blocks (``memoryN`` in sysfs) are the unit Linux adds,
onlines, offlines and removes.

Zones keep the kernel's watermarks (min/low/high from ``min_free_kbytes``) and lowmem
reserves: an allocation takes pages from a zone only while the zone stays above its mark
(the fast path uses *low*, the slow path, migration targets and the memmap use *min*), so
memory "runs out" with free pages left, as in a real guest.

Simplifications (also stated in explanations): pages are counted per chunk, not tracked one by
one; a pageblock's migratetype is derived from what it holds (a chunk with an unmovable page is
an unmovable pageblock); migration and packed allocations take the lowest-addressed free space
of the best zone (the real buddy allocator hands out whatever its free lists hold); offlining
that cannot migrate gives up at once instead of looping until a signal arrives.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from math import isqrt
from typing import Iterator

import numpy as np

from .free_space import FreeSpace
from .units import PAGE_SIZE, PAGEBLOCK_SIZE

CHUNK_SIZE = PAGEBLOCK_SIZE
# numpy's reductions without the Python wrappers of ndarray.sum/.any (hot paths on small arrays)
_add = np.add.reduce
_count = np.count_nonzero
PAGES_PER_CHUNK = CHUNK_SIZE // PAGE_SIZE
MEMMAP_BYTES_PER_PAGE = 64
PTE_BYTES = 8             # one page-table entry: a page-table page maps page_size / 8 base pages
WINDOW = 1 << 20          # chunks per piece of whole-region work (2 TiB of guest memory)


class Zone(IntEnum):
    NONE = 0
    DMA32 = 1
    NORMAL = 2
    MOVABLE = 3
    DMA = 4        # the first 16 MiB on x86-64 (modelled per chunk; memory0 shows DMA32)


ZONE_NAMES = {Zone.NONE: "none", Zone.DMA32: "DMA32", Zone.NORMAL: "Normal", Zone.MOVABLE: "Movable",
              Zone.DMA: "DMA"}
KERNEL_ZONES = (Zone.NORMAL, Zone.DMA32, Zone.DMA)
N_ZONES = len(Zone)
# The kernel's zone order (zone_idx): DMA < DMA32 < NORMAL < MOVABLE.
ZONE_ORDER = (Zone.DMA, Zone.DMA32, Zone.NORMAL, Zone.MOVABLE)
# sysctl_lowmem_reserve_ratio on x86-64: DMA 256, DMA32 256, NORMAL 32.
LOWMEM_RESERVE_RATIO = {Zone.DMA: 256, Zone.DMA32: 256, Zone.NORMAL: 32}
WATERMARK_SCALE_FACTOR = 10          # vm.watermark_scale_factor: 0.1 % of a zone
# No zone's min watermark can exceed this (min_free_kbytes: at most 262144 kB from the square
# root, or khugepaged's 11 pageblocks per kernel zone of up to 8 nodes): a cheap bound that spares
# recomputing the watermarks where a zone is far above them.
MAX_MIN_PAGES = max(262144 // 4, PAGES_PER_CHUNK * 11 * 3 * 8)
# Allocation classes: the highest zone a request may use (gfp_zone()): GFP_KERNEL and the
# migration target of a kernel-zone page stop at NORMAL, GFP_HIGHUSER_MOVABLE may use MOVABLE.
CLASS_ZONELIST = {Zone.NORMAL: (Zone.NORMAL, Zone.DMA32, Zone.DMA),
                  Zone.MOVABLE: (Zone.MOVABLE, Zone.NORMAL, Zone.DMA32, Zone.DMA)}


class Page(IntEnum):
    """What a used 4 KiB page holds. The first four kinds are unmovable."""

    RESERVED = 0   # kernel image, firmware, boot-time memmap, holes: not managed by the buddy
    MEMMAP = 1     # struct pages of hot-added memory (64 B per base page)
    KERNEL = 2     # other kernel allocations (page tables, kmalloc, pinned pages)
    SLAB = 3       # unreclaimable slab objects
    ANON = 4       # anonymous user memory (movable)
    CACHE = 5      # page cache / tmpfs (movable)


UNMOVABLE = (Page.RESERVED, Page.MEMMAP, Page.KERNEL, Page.SLAB)
MOVABLE = (Page.ANON, Page.CACHE)
PAGE_NAMES = {p: p.name.lower() for p in Page}


def alloc_class(kind: Page) -> Zone:
    """The highest zone an allocation of ``kind`` may use (GFP_HIGHUSER_MOVABLE vs GFP_KERNEL)."""
    return Zone.MOVABLE if kind in MOVABLE else Zone.NORMAL


@dataclass(frozen=True, slots=True)
class Segment:
    """A contiguous piece of guest-physical memory: boot RAM of a node, or a device region."""

    name: str
    addr: int
    size: int
    node: int
    chunk_off: int
    mb_off: int
    device: int  # index of the virtio-mem device, -1 for boot memory


@dataclass(slots=True)
class FakeOfflineResult:
    """Outcome of alloc_contig_range() on a range of chunks."""

    ok: bool
    errno: str = ""          # "", "EBUSY" or "ENOMEM"
    reason: str = ""
    migrated: int = 0        # pages moved elsewhere
    tries: int = 0


@dataclass(frozen=True, slots=True)
class Watermarks:
    """Per (node, zone) watermarks and lowmem reserves in 4 KiB pages (mm/page_alloc.c, 6.1)."""

    min_free_kbytes: int
    min: np.ndarray          # shape (nodes, N_ZONES)
    low: np.ndarray
    high: np.ndarray
    reserve: dict            # allocation class (Zone.NORMAL / Zone.MOVABLE) -> (nodes, N_ZONES)

    def mark(self, which: str) -> np.ndarray:
        return {"min": self.min, "low": self.low, "high": self.high}[which]


class BlockIndex:
    """sysfs memory block number -> model index, a read-only mapping over the sorted ``mb_phys``
    (a dict of every block would cost 60 MB at 64 TiB)."""

    __slots__ = ("_phys",)

    def __init__(self, mb_phys: np.ndarray):
        self._phys = mb_phys

    def get(self, sysfs_id: int, default: int | None = None) -> int | None:
        if not len(self._phys) or not int(self._phys[0]) <= sysfs_id <= int(self._phys[-1]):
            return default
        i = int(np.searchsorted(self._phys, sysfs_id))
        return i if int(self._phys[i]) == sysfs_id else default

    def __getitem__(self, sysfs_id: int) -> int:
        i = self.get(sysfs_id)
        if i is None:
            raise KeyError(sysfs_id)
        return i

    def __contains__(self, sysfs_id: object) -> bool:
        return isinstance(sysfs_id, (int, np.integer)) and self.get(int(sysfs_id)) is not None

    def __len__(self) -> int:
        return len(self._phys)


_NOTHING_MOVED = FakeOfflineResult(True)
_ONE_CHUNK = np.full(1, PAGES_PER_CHUNK, dtype=np.int64)    # a memmap of one whole chunk (never written)
_ONE_CHUNK.flags.writeable = False


class GuestMemory:
    """All guest RAM of one VM: boot memory plus every virtio-mem region."""

    def __init__(self, memory_block_size: int, segments: list[tuple[str, int, int, int, int]],
                 page_size: int = PAGE_SIZE, thp: bool = True):
        """``segments``: (name, addr, size, node, device) in address order, whole memory blocks.

        ``page_size`` is the guest's base page (the memmap costs 64 B per base page); ``thp``
        says whether khugepaged raises min_free_kbytes (transparent huge pages enabled).
        """
        if memory_block_size % CHUNK_SIZE:
            raise ValueError("memory_block_size must be a multiple of 2M")
        self.mb_size = memory_block_size
        self.chunks_per_mb = memory_block_size // CHUNK_SIZE
        self.page_size = page_size
        self.thp = thp
        segs: list[Segment] = []
        chunk_off = mb_off = 0
        for name, addr, size, node, device in segments:
            if size % memory_block_size or addr % memory_block_size:
                raise ValueError(f"segment {name}: {addr:#x}+{size:#x} is not made of whole memory blocks")
            segs.append(Segment(name, addr, size, node, chunk_off, mb_off, device))
            chunk_off += size // CHUNK_SIZE
            mb_off += size // memory_block_size
        self.segments = segs
        self.n_chunks = chunk_off
        self.n_mb = mb_off
        self.n_nodes = max((s.node for s in segs), default=0) + 1
        self._nodes = sorted({int(s.node) for s in segs})
        # per memory block
        self.mb_phys = np.zeros(self.n_mb, dtype=np.int64)
        self.mb_node = np.zeros(self.n_mb, dtype=np.int16)
        self.mb_device = np.zeros(self.n_mb, dtype=np.int16)
        for s in segs:
            n = s.size // memory_block_size
            self.mb_phys[s.mb_off:s.mb_off + n] = np.arange(n) + s.addr // memory_block_size
            self.mb_node[s.mb_off:s.mb_off + n] = s.node
            self.mb_device[s.mb_off:s.mb_off + n] = s.device
        self.mb_present = np.zeros(self.n_mb, dtype=bool)
        self.mb_online = np.zeros(self.n_mb, dtype=bool)
        self.mb_zone = np.zeros(self.n_mb, dtype=np.uint8)
        # per chunk
        self.plugged = np.zeros(self.n_chunks, dtype=bool)
        self.chunk_online = np.zeros(self.n_chunks, dtype=bool)
        self.chunk_zone = np.zeros(self.n_chunks, dtype=np.uint8)
        self.chunk_node = np.repeat(self.mb_node.astype(np.uint8), self.chunks_per_mb)   # at most 8 nodes
        self.pages = np.zeros((len(Page), self.n_chunks), dtype=np.uint16)
        self.pins = np.zeros(self.n_chunks, dtype=np.uint8)
        self.used_total = [0] * len(Page)
        self.managed_pages = 0
        self.migrated_total = 0   # pages migrated so far (offlining and fake-offlining), for benchmarks
        # per (node, zone): buddy-managed pages and pages in use (everything but RESERVED)
        self.zone_managed = np.zeros((self.n_nodes, N_ZONES), dtype=np.int64)
        self.zone_used = np.zeros((self.n_nodes, N_ZONES), dtype=np.int64)
        # free pages parked on the per-cpu lists: freed pages go there first (up to the zone's
        # pcp high mark, its low watermark with one CPU); MemFree and watermark checks do not see them
        self.pcp = np.zeros((self.n_nodes, N_ZONES), dtype=np.int64)
        self._zone_version = 0
        self._wm: tuple[int, Watermarks | None] = (-1, None)
        self.memmap_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # page tables of the anonymous memory (a part of the KERNEL pages): chunk -> pages, in the
        # order they were allocated (the last ones are freed first)
        self.page_table_at: dict[int, int] = {}
        # the chunk whose pages a failed migration just put back: they wait in the per-CPU LRU-add
        # batch, off the LRU, until the next migration (lru_cache_disable()) or guest activity drains it
        self.lru_batch_at = -1
        self.space = FreeSpace()
        # per zone, the chunk range [lo, hi) its chunks ever lay in: whole-zone reads stay inside it
        self.zone_extent: dict[int, tuple[int, int]] = {}
        self.phys_to_mb = BlockIndex(self.mb_phys)
        self.span: dict[tuple[int, int], list[int]] = {}
        self.zone_present: dict[tuple[int, int], int] = {}
        self.dev_present: dict[tuple[int, bool], int] = {}
        self.boot_present: dict[int, int] = {}   # present (non-hole) boot pages per node
        self.version = 0          # bumped by every change to pages or online chunks
        self._free_chunks: tuple[int, int] = (-1, 0)

    # ----- geometry ---------------------------------------------------------------------
    def chunk_of_addr(self, addr: int) -> int:
        for s in self.segments:
            if s.addr <= addr < s.addr + s.size:
                return s.chunk_off + (addr - s.addr) // CHUNK_SIZE
        raise KeyError(addr)

    def mb_chunks(self, mb: int) -> slice:
        return slice(mb * self.chunks_per_mb, (mb + 1) * self.chunks_per_mb)

    def mb_of_chunk(self, chunk: int) -> int:
        return chunk // self.chunks_per_mb

    @property
    def memmap_per_block(self) -> int:
        """Bytes of struct pages for one memory block: 64 B per base page."""
        return self.mb_size // self.page_size * MEMMAP_BYTES_PER_PAGE

    @property
    def page_table_span(self) -> int:
        """Bytes of anonymous memory one page-table page maps: 2 MiB with 4 KiB pages (512 entries
        of 8 B), 512 MiB with arm64's 64 KiB pages."""
        return self.page_size // PTE_BYTES * self.page_size

    # ----- derived numbers --------------------------------------------------------------
    # A chunk holds at most 512 pages in all, so per-chunk sums are int16: over a 64 TiB region
    # (32M chunks) an int64 result would be a 256 MiB temporary, an int16 one is 64 MiB.
    def used(self, sl: slice | np.ndarray | int = slice(None)) -> np.ndarray:
        """Pages in use per chunk (int16)."""
        return self.pages[:, sl].sum(axis=0, dtype=np.int16)

    def free_pages(self, sl: slice = slice(None)) -> np.ndarray:
        """Free 4 KiB pages per chunk (0 where the chunk is not online)."""
        return np.where(self.chunk_online[sl], PAGES_PER_CHUNK - self.used(sl), 0)

    def pages_per_kind(self, sl: slice) -> list[int]:
        """How many pages of each kind (Page order) the chunks ``sl`` hold."""
        return _add(self.pages[:, sl], axis=1).tolist()

    def unmovable(self, sl: slice | int) -> np.ndarray:
        """Unmovable pages per chunk (int16)."""
        return self.pages[:Page.ANON, sl].sum(axis=0, dtype=np.int16)

    def movable(self, sl: slice | int) -> np.ndarray:
        """Movable pages per chunk (int16)."""
        return self.pages[Page.ANON:, sl].sum(axis=0, dtype=np.int16)

    @property
    def mem_total(self) -> int:
        """/proc/meminfo MemTotal in bytes: pages managed by the buddy allocator."""
        return self.managed_pages * PAGE_SIZE

    @property
    def mem_free(self) -> int:
        """/proc/meminfo MemFree: free pages in the buddy lists (not those on per-cpu lists)."""
        used = sum(self.used_total) - self.used_total[Page.RESERVED]
        return (self.managed_pages - used - int(self.pcp_pages().sum())) * PAGE_SIZE

    @property
    def memmap_bytes(self) -> int:
        return self.used_total[Page.MEMMAP] * PAGE_SIZE

    def zone_free(self) -> np.ndarray:
        """Free pages per (node, zone), as /proc/zoneinfo's "pages free" (per-cpu lists excluded)."""
        return self.zone_managed - self.zone_used - self.pcp_pages()

    def pcp_pages(self) -> np.ndarray:
        """Pages on the per-cpu lists per (node, zone): at most the zone's high mark (its low watermark)."""
        if not self.pcp.any():
            return self.pcp
        free = np.maximum(self.zone_managed - self.zone_used, 0)
        return np.minimum(np.minimum(self.pcp, self.watermarks().low), free)

    def freed_to_pcp(self, idx: np.ndarray, cnt: np.ndarray) -> None:
        """Freed order-0/THP pages land on the per-cpu lists of their zone first (free_unref_page)."""
        if len(idx) == 1:
            c = int(idx[0])
            if self.chunk_online[c]:
                self.pcp[int(self.chunk_node[c]), int(self.chunk_zone[c])] += int(cnt[0])
            return
        on = self.chunk_online[idx]
        if on.any():
            self._zone_add(self.pcp, idx[on], np.asarray(cnt)[on])

    def drain_pcp(self, node: int, zone: int) -> None:
        """drain_all_pages(zone): alloc_contig_range() and offline_pages() empty the zone's lists."""
        self.pcp[node, zone] = 0

    # ----- watermarks -------------------------------------------------------------------
    def watermarks(self) -> Watermarks:
        """min/low/high per zone and the lowmem reserves, recomputed when managed pages change.

        As init_per_zone_wmark_min() after every online/offline: min_free_kbytes =
        sqrt(16 * lowmem kB), raised by khugepaged (THP on) to 11 pageblocks per populated
        kernel zone (at most 5 % of lowmem); each zone gets its share of it by managed pages
        (6.1 counts ZONE_MOVABLE in that sum), low/high add max(min/4, 0.1 % of the zone).
        """
        if self._wm[0] == self._zone_version and self._wm[1] is not None:
            return self._wm[1]
        managed = [[int(v) for v in row] for row in self.zone_managed]
        nodes = range(self.n_nodes)
        lowmem = sum(managed[n][z] for n in nodes for z in ZONE_ORDER) or 1
        buffer_zones = (Zone.DMA, Zone.DMA32, Zone.NORMAL)

        def setup(min_kb: int) -> tuple[list, list, list]:
            pages_min = min_kb // 4
            mn = [[0] * N_ZONES for _ in nodes]
            lo = [[0] * N_ZONES for _ in nodes]
            hi = [[0] * N_ZONES for _ in nodes]
            for n in nodes:
                for z in ZONE_ORDER:
                    m = managed[n][z]
                    tmp = pages_min * m // lowmem
                    delta = max(tmp >> 2, m * WATERMARK_SCALE_FACTOR // 10000)
                    mn[n][z], lo[n][z], hi[n][z] = tmp, tmp + delta, tmp + 2 * delta
            return mn, lo, hi

        def free_buffer_pages(hi: list) -> int:
            return sum(max(0, managed[n][z] - hi[n][z]) for n in nodes for z in buffer_zones)

        base = min(max(isqrt(sum(managed[n][z] for n in nodes for z in buffer_zones) * 4 * 16), 128), 262144)
        _, _, hi = setup(base)
        base = min(max(isqrt(free_buffer_pages(hi) * 4 * 16), 128), 262144)
        mn, lo, hi = setup(base)
        min_kb = base
        if self.thp:
            populated = sum(1 for n in nodes for z in buffer_zones if managed[n][z] > 0)
            pb = PAGES_PER_CHUNK
            recommended = min(pb * populated * 2 + pb * populated * 9, free_buffer_pages(hi) // 20) * 4
            if recommended > min_kb:
                min_kb = recommended
                mn, lo, hi = setup(min_kb)
        reserve = {}
        for cls in (Zone.NORMAL, Zone.MOVABLE):
            r = [[0] * N_ZONES for _ in nodes]
            top = ZONE_ORDER.index(cls)
            for n in nodes:
                for i, z in enumerate(ZONE_ORDER[:top]):
                    if not managed[n][z]:
                        continue
                    above = sum(managed[n][u] for u in ZONE_ORDER[i + 1:top + 1])
                    r[n][z] = above // LOWMEM_RESERVE_RATIO[z]
            reserve[cls] = np.array(r, dtype=np.int64)
        wm = Watermarks(min_kb, np.array(mn, dtype=np.int64), np.array(lo, dtype=np.int64),
                        np.array(hi, dtype=np.int64), reserve)
        self._wm = (self._zone_version, wm)
        return wm

    def available(self, cls: Zone, mark: str | None) -> np.ndarray:
        """Pages per (node, zone) an allocation of class ``cls`` may still take above ``mark``
        (free > mark + lowmem_reserve); ``mark=None`` ignores watermarks (boot-time setup)."""
        free = self.zone_free()
        if mark is None:
            return np.maximum(free, 0)
        wm = self.watermarks()
        return np.maximum(free - wm.mark(mark) - wm.reserve[cls], 0)

    def _surely_available(self, node: int, need: int) -> bool:
        """True when the first kernel zone the memmap would come from is so far above any possible
        min watermark and lowmem reserve that ``need`` pages surely fit (no need to compute them)."""
        managed = self.zone_managed[node]
        for zone, above in ((Zone.NORMAL, 0), (Zone.DMA32, int(managed[Zone.NORMAL]) // 256)):
            if (node, int(zone)) in self.span:
                free = int(managed[zone]) - int(self.zone_used[node, zone]) - int(self.pcp[node, zone])
                return free - MAX_MIN_PAGES - above >= need
        return False

    def headroom(self, cls: Zone) -> bool:
        """Can a small allocation of class ``cls`` (GFP_KERNEL: NORMAL, a user page: MOVABLE) still
        succeed in some zone above its min watermark?"""
        avail = self.available(cls, "min")
        return bool(avail[:, [int(z) for z in CLASS_ZONELIST[cls]]].sum() > 0)

    # ----- per-zone bookkeeping ---------------------------------------------------------
    def _zone_add(self, table: np.ndarray, idx: np.ndarray | int, cnt: np.ndarray | int) -> None:
        if np.ndim(idx) == 0:
            table[int(self.chunk_node[idx]), int(self.chunk_zone[idx])] += int(cnt)
            return
        key = self.chunk_node[idx] * np.int16(N_ZONES) + self.chunk_zone[idx]
        if len(key) and key.min() == key.max():         # one node and zone: no bincount over floats
            k = int(key[0])
            table[k // N_ZONES, k % N_ZONES] += int(np.sum(cnt, dtype=np.int64))
            return
        sums = np.bincount(key, weights=cnt, minlength=table.size)
        table += np.rint(sums).astype(np.int64).reshape(table.shape)

    def _managed_change(self, sl: slice, chunks: np.ndarray, sign: int) -> None:
        """Chunks going online (+1) or offline (-1) in ``sl`` (mask ``chunks``) change zone_managed."""
        n = int(np.count_nonzero(chunks))
        if not n:
            return
        z = int(self.chunk_zone[sl.start])
        node = int(self.chunk_node[sl.start])
        self.zone_managed[node, z] += sign * n * PAGES_PER_CHUNK
        self._zone_version += 1

    def _covers(self, zone: int, sl: slice) -> None:
        ext = self.zone_extent.get(zone)
        if ext is None:
            self.zone_extent[zone] = (sl.start, sl.stop)
        elif ext[0] > sl.start or ext[1] < sl.stop:
            self.zone_extent[zone] = (min(ext[0], sl.start), max(ext[1], sl.stop))

    def set_chunk_zone(self, sl: slice, zone: Zone) -> None:
        """Move online (boot) chunks to another zone, e.g. the first 16 MiB to ZONE_DMA."""
        for c in range(sl.start, sl.stop):
            node, old = int(self.chunk_node[c]), int(self.chunk_zone[c])
            if self.chunk_online[c]:
                mine = PAGES_PER_CHUNK - int(self.pages[Page.RESERVED, c])
                used = int(self.used(c)) - int(self.pages[Page.RESERVED, c])
                self.zone_managed[node, old] -= mine
                self.zone_managed[node, int(zone)] += mine
                self.zone_used[node, old] -= used
                self.zone_used[node, int(zone)] += used
            self.chunk_zone[c] = zone
        self._zone_version += 1
        self._covers(int(zone), sl)
        self.space.freed(self, sl)

    # ----- memory block life cycle ------------------------------------------------------
    def add_block(self, mb: int) -> bool:
        """add_memory(): allocate the block's memmap from kernel memory; False = -ENOMEM.

        The vmemmap is a GFP_KERNEL|__GFP_RETRY_MAYFAIL allocation: min watermark, no OOM killer.
        """
        need = self.memmap_per_block // PAGE_SIZE
        node = int(self.mb_node[mb])
        where = self._whole_free_chunks(need, node, None) if self._surely_available(node, need) else None
        if where is None:
            limits = self.available(Zone.NORMAL, "min")
            where = self._whole_free_chunks(need, node, limits) or self._whole_first(need, node, limits)
        if where is None:
            return False
        idx, cnt = where
        self.add_pages(Page.MEMMAP, idx, cnt)
        self.memmap_of[mb] = (idx, cnt)
        self.mb_present[mb] = True
        return True

    def remove_block(self, mb: int) -> None:
        """remove_memory(): memoryN disappears and its memmap goes back to the buddy."""
        idx, cnt = self.memmap_of.pop(mb)
        if len(idx) == 1 and self.chunk_online[idx[0]]:          # the usual memmap: one whole chunk
            c, n = int(idx[0]), int(cnt[0])
            self.version += 1
            self.pages[Page.MEMMAP, c] -= n
            self.used_total[Page.MEMMAP] -= n
            node, zone = int(self.chunk_node[c]), int(self.chunk_zone[c])
            self.zone_used[node, zone] -= n
            self.pcp[node, zone] += n                            # freed pages park on the per-cpu lists
            self.space._lower(node, zone, c)
        else:
            self.add_pages(Page.MEMMAP, idx, -cnt.astype(np.int64))
            self.freed_to_pcp(idx, cnt)
        self.mb_present[mb] = False
        self.mb_zone[mb] = Zone.NONE

    def online_block(self, mb: int, zone: Zone) -> int:
        """online_pages(): the block's plugged chunks join the buddy in ``zone``; returns how many."""
        self.version += 1
        sl = self.mb_chunks(mb)
        self.mb_online[mb] = True
        self.mb_zone[mb] = zone
        self._account_present(mb, +1)
        self.chunk_zone[sl] = zone
        self._covers(int(zone), sl)
        plugged = self.plugged[sl]
        self.chunk_online[sl] = plugged
        n = int(np.count_nonzero(plugged))
        self.managed_pages += n * PAGES_PER_CHUNK
        if n:
            self.zone_managed[int(self.chunk_node[sl.start]), int(zone)] += n * PAGES_PER_CHUNK
            self._zone_version += 1
        self.space._lower(int(self.mb_node[mb]), int(zone), sl.start)     # the whole block is in ``zone`` now
        return n

    def offline_check(self, mb: int) -> FakeOfflineResult:
        """Can offline_pages() succeed? Unmovable pages fail at once (-EBUSY)."""
        sl = self.mb_chunks(mb)
        if self.pages[:Page.ANON, sl].any():
            return self._unmovable_in_block(sl)
        return FakeOfflineResult(True)

    def _unmovable_in_block(self, sl: slice) -> FakeOfflineResult:
        unmov = self.unmovable(sl)
        bad = np.flatnonzero(unmov)
        return FakeOfflineResult(False, "EBUSY", f"{int(unmov.sum())} unmovable pages in "
                                 f"{len(bad)} of its 2 MiB chunks (the first: chunk {int(bad[0])})")

    def offline_block(self, mb: int) -> FakeOfflineResult:
        """offline_pages(): migrate movable pages away, then take the block out of the buddy."""
        self.version += 1
        sl = self.mb_chunks(mb)
        kinds = self.pages_per_kind(sl)
        if sum(kinds[:Page.ANON]):
            return self._unmovable_in_block(sl)
        self.drain_pcp(int(self.mb_node[mb]), int(self.mb_zone[mb]))
        online = self.chunk_online[sl]
        n_on = int(np.count_nonzero(online))
        mig = self._migrate(sl, kinds, online, n_on) if kinds[Page.ANON] or kinds[Page.CACHE] else _NOTHING_MOVED
        if not mig.ok:
            return mig
        self._take_offline(sl, online, n_on)
        self._account_present(mb, -1)
        self.mb_online[mb] = False
        return FakeOfflineResult(True, migrated=mig.migrated)

    def _account_present(self, mb: int, sign: int) -> None:
        """Zone spans and present pages change when a block goes online or offline."""
        node, zone, dev = int(self.mb_node[mb]), int(self.mb_zone[mb]), int(self.mb_device[mb])
        pages = self.chunks_per_mb * PAGES_PER_CHUNK
        key = (node, zone)
        self.zone_present[key] = self.zone_present.get(key, 0) + sign * pages
        if dev >= 0:
            dkey = (dev, zone == Zone.MOVABLE)
            self.dev_present[dkey] = self.dev_present.get(dkey, 0) + sign * pages
        span = self.span.get(key)
        if sign > 0:
            self.span[key] = [min(span[0], mb), max(span[1], mb)] if span else [mb, mb]
            return
        self.mb_online[mb] = False
        online, zones, nodes = self.mb_online, self.mb_zone, self.mb_node
        lo, hi = span
        while lo <= hi and not (online[lo] and zones[lo] == zone and nodes[lo] == node):
            lo += 1
        while hi >= lo and not (online[hi] and zones[hi] == zone and nodes[hi] == node):
            hi -= 1
        if lo > hi:
            del self.span[key]
        else:
            self.span[key] = [lo, hi]

    def zone_intersects(self, node: int, zone: Zone, mb: int) -> bool:
        span = self.span.get((node, int(zone)))
        return bool(span) and span[0] <= mb <= span[1]

    # ----- fake offline / online (virtio-mem inside online blocks) ----------------------
    def fake_offline(self, sl: slice, movable_zone: bool, kinds: list[int] | None = None) -> FakeOfflineResult:
        """alloc_contig_range() as virtio-mem calls it: 5 tries on ZONE_MOVABLE, 1 elsewhere.
        ``kinds``: the pages per kind in ``sl`` if the caller has just counted them."""
        self.version += 1
        max_tries = 5 if movable_zone else 1
        if kinds is None:
            kinds = self.pages_per_kind(sl)
        if sum(kinds[:Page.ANON]):
            unmov = self.unmovable(sl)
            first = int(np.flatnonzero(unmov)[0])
            return FakeOfflineResult(False, "EBUSY", f"{int(unmov.sum())} unmovable pages "
                                     f"(the first in 2 MiB chunk {first} of the range) cannot be migrated",
                                     tries=max_tries if movable_zone else 1)
        if not movable_zone and sl.start <= self.lru_batch_at < sl.stop:
            return FakeOfflineResult(False, "EBUSY", "the pages the last failed migration put back still wait "
                                     "in the per-CPU LRU-add batch, off the LRU, so has_unmovable_pages() takes them "
                                     "for unmovable and isolating their pageblock fails", tries=1)
        pins = self.pins[sl]
        tries = 1
        if _count(pins):
            worst = int(pins.max())
            if worst >= max_tries:
                pins[:] = np.maximum(pins.astype(np.int16) - max_tries, 0)
                return FakeOfflineResult(False, "EBUSY", "pages are pinned (elevated reference "
                                         "count) and could not be migrated", tries=max_tries)
            pins[:] = 0
            tries = worst + 1
        self.drain_pcp(int(self.chunk_node[sl.start]), int(self.chunk_zone[sl.start]))
        online = self.chunk_online[sl]
        n_on = int(np.count_nonzero(online))
        if kinds[Page.ANON] or kinds[Page.CACHE]:
            mig = self._migrate(sl, kinds, online, n_on)
            if not mig.ok:
                mig.tries = tries
                return mig
            migrated = mig.migrated
        else:
            self.version += 1
            migrated = 0
        self._take_offline(sl, online, n_on)
        return FakeOfflineResult(True, migrated=migrated, tries=tries)

    def _take_offline(self, sl: slice, online: np.ndarray, n: int) -> None:
        """The chunks of ``sl`` (``online``: the view of their online bits, ``n`` of them set)
        leave the buddy allocator: MemTotal and the zone shrink."""
        if n:
            online[:] = False
            self.managed_pages -= n * PAGES_PER_CHUNK
            self.zone_managed[int(self.chunk_node[sl.start]), int(self.chunk_zone[sl.start])] -= n * PAGES_PER_CHUNK
            self._zone_version += 1

    def fake_online(self, sl: slice) -> None:
        """Give plugged chunks of an online block to the buddy (after plug, or undoing a failed unplug)."""
        self.version += 1
        mb = sl.start // self.chunks_per_mb
        if not self.mb_online[mb]:
            return
        newly = self.plugged[sl] & ~self.chunk_online[sl]
        self.chunk_online[sl] |= self.plugged[sl]
        self.chunk_zone[sl] = self.mb_zone[mb]
        self._covers(int(self.mb_zone[mb]), sl)
        self.managed_pages += int(newly.sum()) * PAGES_PER_CHUNK
        self._managed_change(sl, newly, +1)
        self.space._lower(int(self.mb_node[mb]), int(self.mb_zone[mb]), sl.start)

    # ----- migration --------------------------------------------------------------------
    def migrate_out(self, sl: slice) -> FakeOfflineResult:
        """Move every movable page out of ``sl``; -ENOMEM when the targets run out.

        Targets come from the zones the source page's zone allows (a ZONE_MOVABLE page may go
        anywhere, a kernel-zone page never into ZONE_MOVABLE) and only down to each zone's
        min watermark; the pages of the isolated range itself do not count as free. Pages
        migrated before the targets ran out stay where they went (as in the kernel). Anonymous
        pages move first, each kind from the lowest source address into the targets in order.
        """
        self.version += 1
        kinds = self.pages_per_kind(sl)
        if not (kinds[Page.ANON] or kinds[Page.CACHE]):
            return FakeOfflineResult(True)
        online = self.chunk_online[sl]
        return self._migrate(sl, kinds, online, int(np.count_nonzero(online)))

    def _migrate(self, sl: slice, kinds: list[int], online: np.ndarray, n_on: int) -> FakeOfflineResult:
        """migrate_out() with what the caller already read: pages per kind in ``sl``, its online
        bits and how many are set."""
        self.version += 1
        self.lru_batch_at = -1                 # lru_cache_disable() drains every CPU's batches
        held = kinds[Page.ANON:]
        total = sum(held)
        node = int(self.chunk_node[sl.start])
        src_zone = int(self.chunk_zone[sl.start])
        cls = Zone.MOVABLE if src_zone == Zone.MOVABLE else Zone.NORMAL
        all_on = n_on == len(online)
        used = sum(kinds) if all_on else int(self.pages[:, sl][:, online].sum())
        iso_free = n_on * PAGES_PER_CHUNK - used
        limits = self._migration_limits(cls, node, src_zone, iso_free, total)
        parts = self._find_packed(total, CLASS_ZONELIST[cls], node, limits, exclude=sl)
        if not parts:
            self._put_back(sl, src_zone)
            return self._migrated(total, 0)
        if len(parts) == 1:
            idx, cnt = parts[0][2], parts[0][3]
        else:
            idx = np.concatenate([p[2] for p in parts])
            cnt = np.concatenate([p[3] for p in parts])
        room = int(_add(cnt))
        # one key for the whole source range: a device block's chunks share node and zone
        one_key = int(self.mb_device[sl.start // self.chunks_per_mb]) >= 0
        moved_total = 0
        for kind, have in zip(MOVABLE, held):
            n = min(have, room)
            if n <= 0:
                continue
            put = cnt if n == room else np.clip(n - (np.cumsum(cnt) - cnt), 0, cnt)
            if not one_key:
                src = self.pages[kind, sl].astype(np.int64)
                take = src if n == have else np.clip(n - (np.cumsum(src) - src), 0, src)   # lowest first
                nz = np.flatnonzero(take)
                self.add_pages(kind, nz + sl.start, -take[nz])
                nzt = np.flatnonzero(put)
                self.add_pages(kind, idx[nzt], put[nzt])
            else:
                src = self.pages[kind, sl]
                if n == have:
                    gone = n if all_on else int(src[online].sum())
                    src[:] = 0
                else:                                                   # lowest source addresses first
                    s64 = src.astype(np.int64)
                    take = np.clip(n - (np.cumsum(s64) - s64), 0, s64)
                    gone = n if all_on else int(take[online].sum())
                    src[:] = s64 - take
                self.zone_used[node, src_zone] -= gone
                self.space._lower(node, src_zone, sl.start)
                self._put(kind, parts, idx, put)
            room -= n
            moved_total += n
            if not room:
                break                   # the targets are full: the next kinds get none
            cnt = cnt - put
        self.migrated_total += moved_total
        if moved_total < total:
            self._put_back(sl, src_zone)
        return self._migrated(total, moved_total)

    def _put_back(self, sl: slice, src_zone: int) -> None:
        """Migration ran out of targets: the pages it had isolated (where it stopped: the lowest
        chunk of ``sl`` that still holds movable pages) go back through the per-CPU LRU-add
        batch. Until it drains they are off the LRU, and in a kernel zone has_unmovable_pages()
        takes them for unmovable: isolating their pageblock fails with -EBUSY."""
        if src_zone != Zone.MOVABLE:
            left = np.flatnonzero(self.movable(sl))
            self.lru_batch_at = sl.start + int(left[0]) if len(left) else -1

    def drain_lru_batch(self) -> None:
        """The guest ran (time passed, a program allocated): the per-CPU LRU-add batches drained."""
        self.lru_batch_at = -1

    def _put(self, kind: Page, parts: list, idx: np.ndarray, put: np.ndarray) -> None:
        """Migrated pages arrive at ``idx`` (the targets ``parts`` found, all online)."""
        if len(idx) <= 4:                                      # the usual few chunks: scalar updates
            row = self.pages[kind]
            for c, n in zip(idx.tolist(), put.tolist()):
                row[c] += n
        else:
            self.pages[kind, idx] = self.pages[kind, idx] + put
        if len(parts) == 1:
            self.zone_used[parts[0][0], parts[0][1]] += int(_add(put))
            return
        starts = np.cumsum([0] + [len(p[2]) for p in parts[:-1]])
        for (nd, zone, _, _), got in zip(parts, np.add.reduceat(put, starts).tolist()):
            self.zone_used[nd, zone] += got

    @staticmethod
    def _migrated(total: int, moved: int) -> FakeOfflineResult:
        if moved < total:
            return FakeOfflineResult(False, "ENOMEM", f"{total} movable pages need a new home but only "
                                     f"{moved} fit above the zones' min watermarks (the rest of guest "
                                     "memory is too full)", migrated=moved)
        return FakeOfflineResult(True, migrated=total)

    def _migration_limits(self, cls: Zone, node: int, src_zone: int, iso_free: int, need: int) -> np.ndarray | None:
        """Pages each (node, zone) may give to a migration (above min, minus the isolated range's
        own free pages). When the first zone the migration tries is so far above any possible
        min watermark that ``need`` surely fits, the other zones are never asked and the
        watermarks need not be computed (a busy drain asks this once per subblock): None."""
        first = int(CLASS_ZONELIST[cls][0])
        lower = (int(self.zone_managed[node, first]) - int(self.zone_used[node, first]) - int(self.pcp[node, first])
                 - MAX_MIN_PAGES - (iso_free if first == src_zone else 0))
        if lower >= need:
            return None
        limits = self.available(cls, "min")
        limits[node, src_zone] = max(0, int(limits[node, src_zone]) - iso_free)
        return limits

    # ----- allocation -------------------------------------------------------------------
    def add_pages(self, kind: Page, idx: np.ndarray, cnt: np.ndarray) -> None:
        """Add (or with negative counts remove) pages of ``kind`` at chunks ``idx`` (unique)."""
        self.version += 1
        table = self.zone_managed if kind == Page.RESERVED else self.zone_used
        sign = -1 if kind == Page.RESERVED else 1
        if kind == Page.RESERVED:
            self._zone_version += 1
        if len(idx) == 1:
            c, n = int(idx[0]), int(cnt[0])
            self.pages[kind, c] = int(self.pages[kind, c]) + n
            self.used_total[kind] += n
            if self.chunk_online[c]:
                table[int(self.chunk_node[c]), int(self.chunk_zone[c])] += sign * n
            if n < 0:
                self.space.freed(self, c)
            return
        cnt = np.asarray(cnt)
        self.pages[kind, idx] = self.pages[kind, idx] + cnt
        self.used_total[kind] += int(cnt.sum())
        on = self.chunk_online[idx]
        if on.all():
            self._zone_add(table, idx, cnt if sign > 0 else -cnt)
        elif on.any():
            self._zone_add(table, idx[on], sign * cnt[on])
        if len(idx) and cnt.min() < 0:
            self.space.freed(self, idx[cnt < 0])

    def _whole_free_chunks(self, need: int, node: int,
                           limits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Fast path for the memmap: whole free 2 MiB chunks (the vmemmap is mapped with PMDs,
        so the kernel asks for order-9 pages first), lowest address first, Normal before DMA32,
        within the zone's watermark. Only the zone's span is searched, from its first-fit
        pointer (``FreeSpace.whole``)."""
        if need % PAGES_PER_CHUNK:
            return None
        want = need // PAGES_PER_CHUNK
        for zone in map(int, (Zone.NORMAL, Zone.DMA32)):
            span = self.span.get((node, zone))
            if not span or (limits is not None and limits[node, zone] < need):
                continue
            idx = self.space.whole_chunks(self, node, zone, span, want)
            if len(idx):
                return idx, (_ONE_CHUNK if want == 1 else np.full(want, PAGES_PER_CHUNK, dtype=np.int64))
        return None

    def _find_packed(self, need: int, zones: tuple[Zone, ...], node: int, limits: np.ndarray | None,
                     exclude: slice | None = None) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
        """Lowest-addressed free pages, zone by zone in fallback order, own node first, at most
        ``limits[node, zone]`` pages per zone, never in ``exclude``; fewer if that is all there is.
        ``limits=None``: the first zone of ``node`` surely has room for all of ``need``.
        Returns (node, zone, chunk indices, page counts) per zone that gave pages, in order."""
        parts: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        if limits is None:
            idxs, cnts, got = self.space.take_lowest(self, node, int(zones[0]), need, exclude)
            return [(node, int(zones[0]), np.concatenate(idxs) if len(idxs) > 1 else idxs[0],
                     np.concatenate(cnts) if len(cnts) > 1 else cnts[0])]
        left = need
        for nd in self._node_order(node):
            for zone in map(int, zones):
                zleft = min(left, int(limits[nd, zone]))
                if zleft <= 0:
                    continue
                idxs, cnts, got = self.space.take_lowest(self, nd, zone, zleft, exclude)
                if got:
                    parts.append((nd, zone, np.concatenate(idxs) if len(idxs) > 1 else idxs[0],
                                  np.concatenate(cnts) if len(cnts) > 1 else cnts[0]))
                left -= got
                if left <= 0:
                    return parts
        return parts

    def _whole_first(self, need: int, node: int, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The memmap when too few whole free chunks are left: per kernel zone in fallback order,
        own node first, whole free chunks first, then partly free ones; None if ``need`` does not fit."""
        idx_parts, cnt_parts, left = [], [], need
        for nd in self._node_order(node):
            for zone in map(int, KERNEL_ZONES):
                zleft = min(left, int(limits[nd, zone]))
                if zleft <= 0:
                    continue
                idx, cnt = self.space.whole_first(self, nd, zone, zleft)
                idx_parts.append(idx)
                cnt_parts.append(cnt)
                left -= int(cnt.sum())
                if left <= 0:
                    return np.concatenate(idx_parts), np.concatenate(cnt_parts)
        return None

    def _node_order(self, node: int) -> list[int]:
        """Own node first, then the others by number (the zonelist's node fallback)."""
        return [node] + [n for n in self._nodes if n != node]

    def alloc(self, pages: int, kind: Page, rng: np.random.Generator, node: int | None = None,
              placement: str = "random", at: slice | None = None, mark: str | None = None,
              claim: str | None = None, placed: list | None = None) -> int:
        """Allocate up to ``pages`` pages of ``kind``; returns how many were allocated.

        Movable kinds may use ZONE_MOVABLE; unmovable kinds only kernel zones (as GFP flags rule),
        each zone only down to ``mark`` (``"low"``/``"min"``; None ignores watermarks).
        Movable pages: ``random`` scatters them over free space (seeded), ``packed`` fills lowest
        addresses first. Unmovable pages follow mobility grouping: they fill pageblocks that
        already hold unmovable pages, then claim whole free pageblocks (lowest first, or at random
        with ``claim="random"``), and only then mix into other pageblocks. ``at`` restricts the
        allocation to a chunk range. ``placed`` collects (chunks, pages) of what was allocated.
        """
        cls = alloc_class(kind)
        zones = CLASS_ZONELIST[cls]
        limits = self.available(cls, mark)
        got = 0
        for zone in map(int, zones):  # zonelist fallback order
            left = pages - got
            if left <= 0:
                break
            nodes = range(self.n_nodes) if node is None else [node]
            left = min(left, int(sum(int(limits[n, zone]) for n in nodes)))
            if left <= 0:
                continue
            cand, f = self._free_in_zone(zone, node, at)
            if not len(cand):
                continue
            if kind in MOVABLE:
                take = self.spread(min(left, int(f.sum())), f, rng, placement)
            else:
                cand, f = self._grouped_order(cand, f, rng, claim or ("lowest" if placement == "packed" else "random"))
                take = self.spread(min(left, int(f.sum())), f, rng, "packed")
            nz = take > 0
            self.add_pages(kind, cand[nz], take[nz])
            if placed is not None:
                placed.append((cand[nz], take[nz]))
            got += int(take.sum())
        return got

    def _free_in_zone(self, zone: int, node: int | None, at: slice | None) -> tuple[np.ndarray, np.ndarray]:
        """Online chunks of ``zone`` (on ``node``, inside ``at``) with free pages, lowest first, and
        their free pages (int64). Read in windows, within the chunks the zone ever covered."""
        lo, hi = self.zone_extent.get(zone, (0, 0))
        if at is not None:
            lo, hi = max(lo, at.start or 0), min(hi, self.n_chunks if at.stop is None else at.stop)
        idx_parts, free_parts = [], []
        for sl in self.windows(lo, max(lo, hi)):
            ok = self.chunk_online[sl] & (self.chunk_zone[sl] == zone)
            if node is not None:
                ok &= self.chunk_node[sl] == node
            if not ok.any():
                continue
            free = np.where(ok, PAGES_PER_CHUNK - self.used(sl), 0)
            idx = np.flatnonzero(free)
            idx_parts.append(idx + sl.start)
            free_parts.append(free[idx].astype(np.int64))
        if not idx_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(idx_parts), np.concatenate(free_parts)

    def _grouped_order(self, cand: np.ndarray, free: np.ndarray, rng: np.random.Generator,
                       claim: str) -> tuple[np.ndarray, np.ndarray]:
        """Mobility grouping: unmovable pageblocks with room, then whole free pageblocks, then the
        rest. Returns the chunks ``cand`` and their ``free`` pages in that order."""
        unmov = self.pages[:Page.ANON, cand].any(axis=0)
        whole = free == PAGES_PER_CHUNK
        own = np.flatnonzero(unmov)
        fresh = np.flatnonzero(~unmov & whole)
        mixed = np.flatnonzero(~unmov & ~whole)
        if claim == "random":
            fresh = fresh[rng.permutation(len(fresh))]
            mixed = mixed[rng.permutation(len(mixed))]
        order = np.concatenate((own, fresh, mixed))
        return cand[order], free[order]

    @staticmethod
    def spread(n: int, cap: np.ndarray, rng: np.random.Generator, placement: str) -> np.ndarray:
        """Split n pages over chunks with free space ``cap`` (never more than cap each)."""
        if placement == "packed":
            cum = np.cumsum(cap)
            before = np.concatenate(([0], cum[:-1]))
            return np.clip(n - before, 0, cap)
        take = np.zeros(len(cap), dtype=np.int64)
        left = n
        while left > 0:
            room = cap - take
            p = room / room.sum()
            add = np.minimum(rng.multinomial(left, p), room)
            take += add
            left = n - int(take.sum())
            if left and add.sum() == 0:
                break
        return take

    def free(self, kind: Page, pages: int | None, rng: np.random.Generator,
             at: slice | None = None) -> int:
        """Free ``pages`` pages of ``kind`` (all of them if None), chosen at random (seeded)."""
        self.version += 1
        arr = self.pages[kind]
        sl = at if at is not None else slice(None)
        held = arr[sl].astype(np.int64)
        if kind == Page.KERNEL and self.page_table_at:      # page tables go only with their memory
            start, stop = sl.start or 0, self.n_chunks if sl.stop is None else sl.stop
            for c, n in self.page_table_at.items():
                if start <= c < stop:
                    held[c - start] -= n
        total = int(held.sum())
        n = total if pages is None else min(pages, total)
        if n == 0:
            return 0
        if n == total:
            drop = held
        else:
            drop = np.zeros(len(held), dtype=np.int64)
            idx = np.flatnonzero(held)
            drop[idx] = rng.multivariate_hypergeometric(held[idx], n)
        nz = np.flatnonzero(drop)
        self.add_pages(kind, nz + (sl.start or 0), -drop[nz])
        if kind in MOVABLE:    # order-0 user pages; freed slab pages (orders 1-3) drain the lists instead
            self.freed_to_pcp(nz + (sl.start or 0), drop[nz])
        if kind == Page.ANON:
            self.free_page_tables()
        return n

    # ----- page tables of anonymous memory ----------------------------------------------
    @property
    def page_tables(self) -> int:
        """Page-table pages (4 KiB units) the anonymous memory holds."""
        return sum(self.page_table_at.values())

    def page_tables_needed(self, more: int = 0) -> int:
        """One page-table page per ``page_table_span`` of anonymous memory in use (plus ``more``
        pages about to be mapped); the upper levels, one page per GiB and per 512 GiB, are left out."""
        anon = (self.used_total[Page.ANON] + more) * PAGE_SIZE
        return -(-anon // self.page_table_span) * (self.page_size // PAGE_SIZE)

    def alloc_page_tables(self, rng: np.random.Generator, mark: str, more: int = 0) -> int:
        """Allocate the page tables that the anonymous memory in use and ``more`` pages about to be
        mapped lack, as a page fault does before it maps the page (pte_alloc(): GFP_KERNEL |
        __GFP_ACCOUNT, so unmovable pages in kernel zones, grouped by mobility like every
        unmovable allocation). When no unmovable pageblock has room, the allocator steals the
        free block at the head of its largest free list: in the model the lowest whole free
        pageblock (so page tables take no random numbers). Returns the pages allocated."""
        need = self.page_tables_needed(more) - self.page_tables
        if need <= 0:
            return 0
        placed: list[tuple[np.ndarray, np.ndarray]] = []
        got = self.alloc(need, Page.KERNEL, rng, placement="packed", mark=mark, placed=placed)
        at = self.page_table_at
        for idx, cnt in placed:
            for c, n in zip(idx.tolist(), cnt.tolist()):
                at[c] = at.get(c, 0) + n
        return got

    def free_page_tables(self) -> int:
        """Free the page tables that no anonymous memory needs any more (the last allocated first,
        as an exiting process or munmap() frees them); order-0 pages, they land on the per-cpu
        lists. Returns the pages freed."""
        extra = self.page_tables - self.page_tables_needed()
        if extra <= 0:
            return 0
        at = self.page_table_at
        idx: list[int] = []
        cnt: list[int] = []
        for c in reversed(list(at)):
            n = min(extra, at[c])
            idx.append(c)
            cnt.append(n)
            extra -= n
            if n == at[c]:
                del at[c]
            else:
                at[c] -= n
            if not extra:
                break
        order = np.argsort(idx)
        chunks = np.array(idx, dtype=np.int64)[order]
        pages = np.array(cnt, dtype=np.int64)[order]
        self.version += 1
        self.add_pages(Page.KERNEL, chunks, -pages)
        self.freed_to_pcp(chunks, pages)
        return int(pages.sum())

    def free_chunks_2m(self) -> int:
        """Completely free online 2 MiB chunks: what a THP or a 2 MiB unplug could use.
        Cached per ``version``: views and metrics ask for it after every action. Read in
        windows, so a 64 TiB region needs no region-sized temporaries."""
        if self._free_chunks[0] != self.version:
            count = 0
            for sl in self.windows():
                online = self.chunk_online[sl]
                if online.any():
                    count += int(np.count_nonzero(online & ~self.pages[:, sl].any(axis=0)))
            self._free_chunks = (self.version, count)
        return self._free_chunks[1]

    def windows(self, start: int = 0, stop: int | None = None, size: int = WINDOW) -> Iterator[slice]:
        """Chunk ranges of at most ``size`` chunks covering ``start..stop``: whole-region work in
        pieces whose temporaries stay a few MiB."""
        stop = self.n_chunks if stop is None else stop
        for a in range(start, stop, size):
            yield slice(a, min(stop, a + size))
