"""Linux guest memory: memory blocks, zones and 4 KiB page accounting per 2 MiB chunk.

A *chunk* is one 2 MiB pageblock, the unit the buddy allocator can isolate and the smallest
virtio-mem subblock on x86-64. Per chunk we count pages by kind (numpy arrays, never
per-page Python objects). Memory blocks (``memoryN`` in sysfs) are the unit Linux adds,
onlines, offlines and removes.

Simplifications (also stated in explanations): pages are counted per chunk, not tracked one by
one; a migration moves pages to the lowest-addressed free space of the best zone (the real
buddy allocator hands out whatever its free lists hold); offlining that cannot migrate gives up
at once instead of looping until a signal arrives.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .units import PAGE_SIZE, PAGEBLOCK_SIZE

CHUNK_SIZE = PAGEBLOCK_SIZE
PAGES_PER_CHUNK = CHUNK_SIZE // PAGE_SIZE
MEMMAP_BYTES_PER_PAGE = 64


class Zone(IntEnum):
    NONE = 0
    DMA32 = 1
    NORMAL = 2
    MOVABLE = 3


ZONE_NAMES = {Zone.NONE: "none", Zone.DMA32: "DMA32", Zone.NORMAL: "Normal", Zone.MOVABLE: "Movable"}
KERNEL_ZONES = (Zone.NORMAL, Zone.DMA32)


class Page(IntEnum):
    """What a used 4 KiB page holds. The first four kinds are unmovable."""

    RESERVED = 0   # kernel image, firmware, boot-time memmap: not managed by the buddy
    MEMMAP = 1     # struct pages of hot-added memory (64 B per 4 KiB page)
    KERNEL = 2     # other kernel allocations (page tables, kmalloc, pinned pages)
    SLAB = 3       # unreclaimable slab objects
    ANON = 4       # anonymous user memory (movable)
    CACHE = 5      # page cache / tmpfs (movable)


UNMOVABLE = (Page.RESERVED, Page.MEMMAP, Page.KERNEL, Page.SLAB)
MOVABLE = (Page.ANON, Page.CACHE)
PAGE_NAMES = {p: p.name.lower() for p in Page}


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


class GuestMemory:
    """All guest RAM of one VM: boot memory plus every virtio-mem region."""

    def __init__(self, memory_block_size: int, segments: list[tuple[str, int, int, int, int]]):
        """``segments``: (name, addr, size, node, device) in address order."""
        if memory_block_size % CHUNK_SIZE:
            raise ValueError("memory_block_size must be a multiple of 2M")
        self.mb_size = memory_block_size
        self.chunks_per_mb = memory_block_size // CHUNK_SIZE
        segs: list[Segment] = []
        chunk_off = mb_off = 0
        for name, addr, size, node, device in segments:
            segs.append(Segment(name, addr, size, node, chunk_off, mb_off, device))
            chunk_off += size // CHUNK_SIZE
            mb_off += size // memory_block_size
        self.segments = segs
        self.n_chunks = chunk_off
        self.n_mb = mb_off
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
        self.chunk_node = np.repeat(self.mb_node, self.chunks_per_mb)
        self.pages = np.zeros((len(Page), self.n_chunks), dtype=np.uint16)
        self.pins = np.zeros(self.n_chunks, dtype=np.uint8)
        self.used_total = [0] * len(Page)
        self.managed_pages = 0
        self.memmap_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._hint: dict[tuple[int, int], int] = {}
        self.phys_to_mb = {int(p): i for i, p in enumerate(self.mb_phys)}
        self.span: dict[tuple[int, int], list[int]] = {}
        self.zone_present: dict[tuple[int, int], int] = {}
        self.dev_present: dict[tuple[int, bool], int] = {}
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

    # ----- derived numbers --------------------------------------------------------------
    # A chunk holds at most 512 pages in all, so sums fit uint16 (summing in int64 is 3x slower).
    def used(self, sl: slice | np.ndarray | int = slice(None)) -> np.ndarray:
        return self.pages[:, sl].sum(axis=0, dtype=np.uint16).astype(np.int64)

    def free_pages(self, sl: slice = slice(None)) -> np.ndarray:
        """Free 4 KiB pages per chunk (0 where the chunk is not online)."""
        return np.where(self.chunk_online[sl], PAGES_PER_CHUNK - self.used(sl), 0)

    def unmovable(self, sl: slice | int) -> np.ndarray:
        return self.pages[:Page.ANON, sl].sum(axis=0, dtype=np.uint16).astype(np.int64)

    def movable(self, sl: slice | int) -> np.ndarray:
        return self.pages[Page.ANON:, sl].sum(axis=0, dtype=np.uint16).astype(np.int64)

    @property
    def mem_total(self) -> int:
        """/proc/meminfo MemTotal in bytes: pages managed by the buddy allocator."""
        return self.managed_pages * PAGE_SIZE

    @property
    def mem_free(self) -> int:
        used = sum(self.used_total) - self.used_total[Page.RESERVED]
        return (self.managed_pages - used) * PAGE_SIZE

    @property
    def memmap_bytes(self) -> int:
        return self.used_total[Page.MEMMAP] * PAGE_SIZE

    # ----- memory block life cycle ------------------------------------------------------
    def add_block(self, mb: int) -> bool:
        """add_memory(): allocate the block's memmap from kernel memory; False = -ENOMEM."""
        need = self.mb_size // PAGE_SIZE * MEMMAP_BYTES_PER_PAGE // PAGE_SIZE
        node = int(self.mb_node[mb])
        where = self._whole_free_chunks(need, node) or \
            self._find_packed(need, KERNEL_ZONES, node, whole_chunks_first=True)
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
        self.add_pages(Page.MEMMAP, idx, -cnt.astype(np.int64))
        self.mb_present[mb] = False
        self.mb_zone[mb] = Zone.NONE

    def online_block(self, mb: int, zone: Zone) -> None:
        self.version += 1
        sl = self.mb_chunks(mb)
        self.mb_online[mb] = True
        self.mb_zone[mb] = zone
        self._account_present(mb, +1)
        self.chunk_zone[sl] = zone
        self.chunk_online[sl] = self.plugged[sl]
        self.managed_pages += int(np.count_nonzero(self.plugged[sl])) * PAGES_PER_CHUNK
        self._touch(sl.start)

    def offline_check(self, mb: int) -> FakeOfflineResult:
        """Can offline_pages() succeed? Unmovable pages fail at once (-EBUSY)."""
        sl = self.mb_chunks(mb)
        unmov = self.unmovable(sl)
        if unmov.any():
            bad = np.flatnonzero(unmov)
            return FakeOfflineResult(False, "EBUSY", f"{int(unmov.sum())} unmovable pages in "
                                     f"{len(bad)} of its 2 MiB chunks (the first: chunk {int(bad[0])})")
        return FakeOfflineResult(True)

    def offline_block(self, mb: int) -> FakeOfflineResult:
        """offline_pages(): migrate movable pages away, then take the block out of the buddy."""
        self.version += 1
        res = self.offline_check(mb)
        if not res.ok:
            return res
        sl = self.mb_chunks(mb)
        mig = self.migrate_out(sl)
        if not mig.ok:
            return mig
        self.managed_pages -= int(self.chunk_online[sl].sum()) * PAGES_PER_CHUNK
        self.chunk_online[sl] = False
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

        def in_zone(i: int) -> bool:
            return bool(self.mb_online[i]) and int(self.mb_zone[i]) == zone and int(self.mb_node[i]) == node

        lo, hi = span
        while lo <= hi and not in_zone(lo):
            lo += 1
        while hi >= lo and not in_zone(hi):
            hi -= 1
        if lo > hi:
            del self.span[key]
        else:
            self.span[key] = [lo, hi]

    def zone_intersects(self, node: int, zone: Zone, mb: int) -> bool:
        span = self.span.get((node, int(zone)))
        return bool(span) and span[0] <= mb <= span[1]

    # ----- fake offline / online (virtio-mem inside online blocks) ----------------------
    def fake_offline(self, sl: slice, movable_zone: bool) -> FakeOfflineResult:
        """alloc_contig_range() as virtio-mem calls it: 5 tries on ZONE_MOVABLE, 1 elsewhere."""
        self.version += 1
        max_tries = 5 if movable_zone else 1
        unmov = self.unmovable(sl)
        if unmov.any():
            first = int(np.flatnonzero(unmov)[0])
            return FakeOfflineResult(False, "EBUSY", f"{int(unmov.sum())} unmovable pages "
                                     f"(the first in 2 MiB chunk {first} of the range) cannot be migrated",
                                     tries=max_tries if movable_zone else 1)
        pins = self.pins[sl]
        tries = 1
        if pins.any():
            worst = int(pins.max())
            if worst >= max_tries:
                pins[:] = np.maximum(pins.astype(np.int16) - max_tries, 0)
                return FakeOfflineResult(False, "EBUSY", "pages are pinned (elevated reference "
                                         "count) and could not be migrated", tries=max_tries)
            pins[:] = 0
            tries = worst + 1
        mig = self.migrate_out(sl)
        if not mig.ok:
            mig.tries = tries
            return mig
        n = int(self.chunk_online[sl].sum())
        self.chunk_online[sl] = False
        self.managed_pages -= n * PAGES_PER_CHUNK
        return FakeOfflineResult(True, migrated=mig.migrated, tries=tries)

    def fake_online(self, sl: slice) -> None:
        """Give plugged chunks of an online block to the buddy (after plug, or undoing a failed unplug)."""
        self.version += 1
        mb = sl.start // self.chunks_per_mb
        if not self.mb_online[mb]:
            return
        newly = self.plugged[sl] & ~self.chunk_online[sl]
        self.chunk_online[sl] |= self.plugged[sl]
        self.chunk_zone[sl] = self.mb_zone[mb]
        self.managed_pages += int(newly.sum()) * PAGES_PER_CHUNK
        self._touch(sl.start)

    # ----- migration --------------------------------------------------------------------
    def migrate_out(self, sl: slice) -> FakeOfflineResult:
        """Move every movable page out of ``sl``; -ENOMEM if the rest of memory cannot hold them."""
        self.version += 1
        mov = self.pages[Page.ANON:, sl]
        total = int(mov.sum(dtype=np.int64))
        if total == 0:
            return FakeOfflineResult(True)
        exclude = self.chunk_online[sl].copy()
        self.chunk_online[sl] = False  # isolate the range so nothing lands back in it
        try:
            node = int(self.chunk_node[sl.start])
            where = self._find_packed(total, (Zone.MOVABLE, Zone.NORMAL, Zone.DMA32), node)
        finally:
            self.chunk_online[sl] = exclude
        if where is None:
            return FakeOfflineResult(False, "ENOMEM", f"{total} movable pages need a new home but "
                                     "the rest of guest memory has too little free space")
        idx, cnt = where
        for kind in MOVABLE:
            moved = int(self.pages[kind, sl].sum(dtype=np.int64))
            if not moved:
                continue
            before = np.concatenate(([0], np.cumsum(cnt)[:-1]))
            take = np.clip(moved - before, 0, cnt)
            self.pages[kind, idx] += take.astype(np.uint16)
            cnt = cnt - take
            self.pages[kind, sl] = 0
        return FakeOfflineResult(True, migrated=total)

    # ----- allocation -------------------------------------------------------------------
    def add_pages(self, kind: Page, idx: np.ndarray, cnt: np.ndarray) -> None:
        """Add (or with negative counts remove) pages of ``kind`` at chunks ``idx`` (unique)."""
        self.version += 1
        if len(idx) == 1:
            c, n = int(idx[0]), int(cnt[0])
            self.pages[kind, c] = int(self.pages[kind, c]) + n
            self.used_total[kind] += n
            if n < 0:
                self._touch(c)
            return
        self.pages[kind, idx] = (self.pages[kind, idx].astype(np.int64) + cnt).astype(np.uint16)
        self.used_total[kind] += int(np.sum(cnt))
        if len(idx):
            self._touch(int(idx.min()))

    def _touch(self, chunk: int) -> None:
        """Free space appeared at ``chunk``: packed searches must look from there again."""
        for key, hint in self._hint.items():
            if chunk < hint:
                self._hint[key] = chunk

    def _whole_free_chunks(self, need: int, node: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Fast path for the memmap: whole free 2 MiB chunks (the vmemmap is mapped with PMDs,
        so the kernel asks for order-9 pages first), lowest address first, Normal before DMA32.
        Only the zone's span is searched, in windows, from a hint that frees move back."""
        if need % PAGES_PER_CHUNK:
            return None
        want = need // PAGES_PER_CHUNK
        for zone in map(int, KERNEL_ZONES):
            span = self.span.get((node, zone))
            if not span:
                continue
            key = (node, -zone)
            start = max(self._hint.get(key, 0), span[0] * self.chunks_per_mb)
            end = (span[1] + 1) * self.chunks_per_mb
            if want == 1 and start < end and self.chunk_online[start] and int(self.chunk_zone[start]) == zone \
                    and int(self.chunk_node[start]) == node and not self.pages[:, start].any():
                self._hint[key] = start + 1
                return np.array([start]), np.array([PAGES_PER_CHUNK])
            found: list[np.ndarray] = []
            have = 0
            while start < end and have < want:
                sl = slice(start, min(end, start + 256))
                ok = (self.chunk_online[sl] & (self.chunk_zone[sl] == zone) & (self.chunk_node[sl] == node)
                      & ~self.pages[:, sl].any(axis=0))
                idx = np.flatnonzero(ok)
                if not found and not len(idx):
                    self._hint[key] = sl.stop
                if len(idx):
                    found.append(idx[:want - have] + start)
                    have += len(found[-1])
                start = sl.stop
            if have == want:
                idx = np.concatenate(found)
                self._hint[key] = int(idx[-1]) + 1   # everything scanned before it is taken or not whole-free
                return idx, np.full(want, PAGES_PER_CHUNK, dtype=np.int64)
        return None

    def _eligible(self, zones: tuple[Zone, ...]) -> np.ndarray:
        return self.chunk_online & np.isin(self.chunk_zone, [int(z) for z in zones])

    def _find_packed(self, need: int, zones: tuple[Zone, ...], node: int,
                     whole_chunks_first: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """Lowest-addressed free pages, zone by zone in fallback order, own node first."""
        if need <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        nodes = [node] + sorted({int(s.node) for s in self.segments} - {node})
        idx_parts, cnt_parts, left = [], [], need
        for nd in nodes:
            for zone in map(int, zones):
                key = (nd, zone)
                start = self._hint.get(key, 0)
                window = 4096
                while left > 0 and start < self.n_chunks:
                    sl = slice(start, min(self.n_chunks, start + window))
                    ok = (self.chunk_online[sl] & (self.chunk_zone[sl] == zone)
                          & (self.chunk_node[sl] == nd))
                    free = np.where(ok, PAGES_PER_CHUNK - self.used(sl), 0)
                    cand = np.flatnonzero(free)
                    if whole_chunks_first and left >= PAGES_PER_CHUNK:
                        full = cand[free[cand] == PAGES_PER_CHUNK]
                        if len(full):
                            cand = np.concatenate((full, cand[free[cand] < PAGES_PER_CHUNK]))
                    if len(cand):
                        f = free[cand]
                        cum = np.cumsum(f)
                        k = int(np.searchsorted(cum, left)) + 1
                        take = f[:k].copy()
                        if cum[min(k, len(cum)) - 1] > left:
                            take[-1] -= cum[k - 1] - left
                        idx_parts.append(cand[:k] + start)
                        cnt_parts.append(take)
                        left -= int(take.sum())
                        if not whole_chunks_first:
                            self._hint[key] = start + int(cand[0])
                    if left > 0:
                        start = sl.stop
                if left <= 0:
                    break
            if left <= 0:
                break
        if left > 0:
            return None
        return np.concatenate(idx_parts), np.concatenate(cnt_parts).astype(np.int64)

    def alloc(self, pages: int, kind: Page, rng: np.random.Generator, node: int | None = None,
              placement: str = "random", at: slice | None = None) -> int:
        """Allocate up to ``pages`` pages of ``kind``; returns how many were allocated.

        Movable kinds may use ZONE_MOVABLE; unmovable kinds only kernel zones (as GFP flags rule).
        ``random`` scatters pages over free space (seeded), ``packed`` fills lowest addresses
        first, ``at`` restricts the allocation to a chunk range.
        """
        zones = (Zone.MOVABLE, Zone.NORMAL, Zone.DMA32) if kind in MOVABLE else KERNEL_ZONES
        mask = self._eligible(zones)
        if node is not None:
            mask &= self.chunk_node == node
        if at is not None:
            keep = np.zeros(self.n_chunks, dtype=bool)
            keep[at] = True
            mask &= keep
        free = np.where(mask, PAGES_PER_CHUNK - self.used(), 0)
        got = 0
        for zone in map(int, zones):  # zonelist fallback order
            left = pages - got
            if left <= 0:
                break
            zfree = np.where(self.chunk_zone == zone, free, 0)
            cand = np.flatnonzero(zfree)
            if not len(cand):
                continue
            f = zfree[cand].astype(np.int64)
            take = self.spread(min(left, int(f.sum())), f, rng, placement)
            nz = take > 0
            self.add_pages(kind, cand[nz], take[nz])
            free[cand] -= take
            got += int(take.sum())
        return got

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
        arr[sl] = (held - drop).astype(np.uint16)
        self.used_total[kind] -= n
        self._touch(0)
        return n

    def free_chunks_2m(self) -> int:
        """Completely free online 2 MiB chunks: what a THP or a 2 MiB unplug could use.
        Cached per ``version``: views and metrics ask for it after every action."""
        if self._free_chunks[0] != self.version:
            count = int(np.count_nonzero(self.chunk_online & ~self.pages.any(axis=0)))
            self._free_chunks = (self.version, count)
        return self._free_chunks[1]
