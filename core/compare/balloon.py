"""virtio-balloon: the VM boots at its maximum size and hides memory by inflating a balloon.

What Linux does (drivers/virtio/virtio_balloon.c, mm/balloon_compaction.c, Linux 6.1), and the
model follows by default (``placement="buddy"``):

- Inflating allocates one order-0 page at a time with ``balloon_page_alloc()``:
  ``GFP_HIGHUSER_MOVABLE | __GFP_NORETRY`` (with CONFIG_BALLOON_COMPACTION, as distributions
  build it). So balloon pages are *movable* allocations: the zonelist starts at ZONE_MOVABLE,
  and balloon compaction can migrate them later.
- The buddy allocator serves order-0 requests from the smallest free block of the movable
  free lists (``__rmqueue_smallest``) and, once it splits a larger block, hands out its
  remainders next: the smallest free fragments go first, then one 2 MiB block after another
  (lowest address first on a fresh guest, which frees its memory to the tail of the lists).
  Free pages inside unmovable pageblocks are only taken when the movable lists are empty.
- The allocation is local to the node of the CPU the balloon's work item runs on (a per-CPU
  workqueue queued from the config interrupt); other nodes only when that node runs low. Each
  zone is used down to its low watermark first, then (slow path) down to min; ``__GFP_NORETRY``
  gives up instead of invoking the OOM killer. The watermarks are those computed at boot for
  the whole memory: ``adjust_managed_page_count`` does not recompute them.
- Without VIRTIO_BALLOON_F_DEFLATE_ON_OOM every inflated page leaves the managed pages
  (``adjust_managed_page_count``): MemTotal and MemFree drop together. Deflating takes pages
  from the head of the balloon's list, the newest first.
- QEMU discards each 4 KiB page on its own (``balloon_inflate_page``: a RAM block with 4 KiB
  pages, as THP-backed anonymous memory is, is discarded page by page): a host huge page of
  which only a part is in the balloon is split.

Model: per 2 MiB chunk we count balloon pages (numpy), never single pages. Within a zone the
buddy order is approximated per chunk: movable chunks with the fewest free pages first, then
whole free chunks in address order, then free pages in chunks holding unmovable pages (largest
first). ``placement="scattered"`` is a labelled what-if, not Linux: the same number of pages per
zone, spread over the zone's chunks in proportion to their free pages, as if the free memory
were evenly shredded. The balloon worker runs on node 0 (modelled: the CPU that takes the
config interrupt; irqbalance may move it). In the page counts a balloon page is a page the
buddy allocator no longer manages (``Page.RESERVED``), which gives MemTotal, MemFree and the
zones' watermarks exactly; compaction moving balloon pages around later is not modelled.
Simplifications: inflation takes free pages only (no reclaim of page cache, no per-cpu lists);
host huge pages are counted from the balloon's current shape (khugepaged is not modelled).
"""
from __future__ import annotations

import numpy as np

from ..config import MachineConfig
from ..events import Kind
from ..memory import CLASS_ZONELIST, PAGES_PER_CHUNK, GuestMemory, Page, Zone
from ..units import PAGE_SIZE, format_size, human
from .vm import PlainVM

PLACEMENTS = ("buddy", "scattered")
PLACEMENT_HELP = {
    "buddy": "as Linux: order-0 pages from the buddy allocator, smallest free pieces first, "
             "then one 2 MiB block after another, on the balloon worker's node first",
    "scattered": "what-if, not Linux: the same pages per zone, spread over its 2 MiB chunks in "
                 "proportion to their free pages (free memory evenly shredded)",
}
WORKER_NODE = 0       # the node of the CPU that runs the balloon's work item (modelled)


def scatter(n: int, free: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` pages over chunks, each chunk's share drawn in proportion to its free pages."""
    take = np.zeros(len(free), dtype=np.int64)
    left = n
    while left > 0:
        room = free - take
        add = np.minimum(rng.multinomial(left, room / room.sum()), room)
        take += add
        left = n - int(take.sum())
    return take


def buddy_chunks(free: np.ndarray, unmovable: np.ndarray | None = None) -> np.ndarray:
    """Chunks in the order the buddy allocator hands out their free pages to order-0 movable
    requests: movable chunks with the smallest free pieces first (fullest first), then whole
    free chunks, ties low address first; chunks holding unmovable pages (other migratetypes:
    fallback only) last, largest free space first."""
    unmov = np.zeros(len(free), dtype=bool) if unmovable is None else unmovable
    whole = free == PAGES_PER_CHUNK
    group = np.where(unmov, 2, np.where(whole, 1, 0))
    key = np.where(unmov, PAGES_PER_CHUNK - free, free)
    return np.lexsort((np.arange(len(free)), key, group))


def buddy_order(n: int, free: np.ndarray, unmovable: np.ndarray | None = None) -> np.ndarray:
    """Split ``n`` pages over chunks in ``buddy_chunks`` order, each chunk filled before the next."""
    order = buddy_chunks(free, unmovable)
    cap = free[order]
    before = np.concatenate(([0], np.cumsum(cap)[:-1]))
    take = np.zeros(len(free), dtype=np.int64)
    take[order] = np.clip(n - before, 0, cap)
    return take


class BalloonVM:
    """A VM booted at ``max_size`` whose balloon hides ``max_size - target`` bytes."""

    name = "balloon"
    title = "virtio-balloon"
    granularity = PAGE_SIZE

    def __init__(self, config: MachineConfig, region_sizes: list[tuple[int, int]], boot_target: int,
                 placement: str = "buddy"):
        """``region_sizes``: (node, bytes) of the memory virtio-mem could hot-plug, booted here.

        The balloon inflates to ``boot_target`` right after boot, from a fresh guest's free memory
        (always in the buddy allocator's order; ``placement`` applies to later inflations).
        """
        if placement not in PLACEMENTS:
            raise ValueError(f"balloon placement: {placement!r} is not allowed; allowed: {', '.join(PLACEMENTS)}")
        per_node = [config.boot_memory // config.nodes] * config.nodes
        for node, size in region_sizes:
            per_node[node] += size
        self.vm = PlainVM(config, per_node)
        self.placement = placement
        self.max_size = sum(per_node)
        self.worker_node = WORKER_NODE
        self.boot_watermarks = self.vm.mem.watermarks()
        self.balloon = np.zeros(self.vm.mem.n_chunks, dtype=np.int64)   # balloon pages per chunk
        self.layers: list[tuple[np.ndarray, np.ndarray, bool]] = []       # (chunks, pages, in handout order)
        if boot_target < self.max_size:
            self._inflate((self.max_size - boot_target) // PAGE_SIZE, "buddy")

    @property
    def balloon_bytes(self) -> int:
        return int(self.balloon.sum()) * PAGE_SIZE

    @property
    def size(self) -> int:
        """What the guest may use: everything it booted with minus the balloon."""
        return self.max_size - self.balloon_bytes

    def resize(self, target: int) -> str:
        """Inflate or deflate so the guest keeps ``target`` bytes; returns why it fell short ("" if not)."""
        short = ""
        if target > self.max_size:
            short = (f"the VM booted with {format_size(self.max_size)}: a balloon only hides memory the VM "
                     "already has, it cannot grow it")
            target = self.max_size
        want = (self.max_size - target) // PAGE_SIZE
        have = int(self.balloon.sum())
        if want > have:
            got = self._inflate(want - have, self.placement)
            if got < want - have:
                short = (f"only {human(got * PAGE_SIZE)} of {human((want - have) * PAGE_SIZE)} were free above the "
                         "zones' min watermarks: the balloon takes free pages only and gives up "
                         "(__GFP_NORETRY) instead of invoking the OOM killer")
        elif want < have:
            self._deflate(have - want)
        return short

    def _available(self, mark: str) -> np.ndarray:
        """Pages per (node, zone) a movable allocation may take above ``mark`` and the lowmem
        reserve, with the watermarks of boot: Linux computes them at boot (and on memory
        hotplug), not when the balloon changes the managed page counts."""
        wm = self.boot_watermarks
        free = self.vm.mem.zone_free()
        return np.maximum(free - wm.mark(mark) - wm.reserve[Zone.MOVABLE], 0)

    def _zonelist(self) -> list[tuple[int, int]]:
        """(node, zone) in the order a movable allocation on the worker's node tries them."""
        nodes = [self.worker_node] + [n for n in range(self.vm.mem.n_nodes) if n != self.worker_node]
        return [(n, int(z)) for n in nodes for z in CLASS_ZONELIST[Zone.MOVABLE]]

    def _inflate(self, pages: int, placement: str) -> int:
        """Take up to ``pages`` free pages: every zone down to low, then down to min (slow path)."""
        mem = self.vm.mem
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        left = pages
        for mark in ("low", "min"):
            avail = self._available(mark)
            for node, zone in self._zonelist():
                k = min(left, int(avail[node, zone]))
                if k <= 0:
                    continue
                idx, cnt = self._take(k, node, zone, placement)
                mem.add_pages(Page.RESERVED, idx, cnt)
                self.balloon[idx] += cnt
                parts.append((idx, cnt))
                left -= int(cnt.sum())
        n = pages - left
        if n == 0:
            return 0
        idx = np.concatenate([p[0] for p in parts])
        cnt = np.concatenate([p[1] for p in parts])
        mem.managed_pages -= n
        self.layers.append((idx, cnt, placement == "buddy"))
        touched = np.zeros(mem.n_chunks, dtype=bool)
        touched[idx] = True
        nodes = np.flatnonzero(np.bincount(mem.chunk_node[touched], minlength=mem.n_nodes)).tolist()
        where = f"node {nodes[0]}" if len(nodes) == 1 else "nodes " + ", ".join(map(str, nodes))
        how = ("smallest free pieces first, then whole 2 MiB blocks" if placement == "buddy"
               else "what-if: spread over the chunks in proportion to their free pages")
        self.vm.emit(Kind.ALLOC, f"balloon inflated by {format_size(n * PAGE_SIZE)}: {n} movable pages of 4 KiB "
                     f"(order 0, {how}) from {int(touched.sum())} different 2 MiB chunks on {where} (the "
                     f"balloon's worker runs on node {self.worker_node}); the host discards them 4 KiB at a time",
                     size=n * PAGE_SIZE)
        return n

    def _take(self, k: int, node: int, zone: int, placement: str) -> tuple[np.ndarray, np.ndarray]:
        """``k`` free pages of one zone of one node: (chunk indices in handout order, pages each)."""
        mem = self.vm.mem
        mine = mem.chunk_online & (mem.chunk_zone == zone) & (mem.chunk_node == node)
        cand = np.flatnonzero(mine)
        free = PAGES_PER_CHUNK - mem.used(cand)
        cand, free = cand[free > 0], free[free > 0]
        if placement == "scattered":
            take = scatter(k, free, self.vm.rng)
            nz = np.flatnonzero(take)
            return cand[nz], take[nz]
        unmov = (mem.unmovable(cand) - self.balloon[cand]) > 0
        take = buddy_order(k, free, unmov)
        order = buddy_chunks(free, unmov)
        order = order[take[order] > 0]
        return cand[order], take[order]

    def _deflate(self, pages: int) -> None:
        """Give back the newest pages first: whole inflations from the top, then part of one
        (its last-handed-out pages if their order is known, else a seeded random share)."""
        mem = self.vm.mem
        left = pages
        while left > 0:
            idx, cnt, ordered = self.layers.pop()
            if int(cnt.sum()) > left:
                if ordered:
                    after = np.cumsum(cnt[::-1])[::-1] - cnt
                    give = np.clip(left - after, 0, cnt)
                else:
                    give = self.vm.rng.multivariate_hypergeometric(cnt, left)
                self.layers.append((idx, cnt - give, ordered))
            else:
                give = cnt
            chunks, at = np.unique(idx, return_inverse=True)   # a chunk may appear once per watermark pass
            back = np.bincount(at, weights=give, minlength=len(chunks)).astype(np.int64)
            nz = np.flatnonzero(back)
            mem.add_pages(Page.RESERVED, chunks[nz], -back[nz])
            self.balloon[chunks[nz]] -= back[nz]
            left -= int(give.sum())
        mem.managed_pages += pages
        self.vm.emit(Kind.FREE, f"balloon deflated by {format_size(pages * PAGE_SIZE)}: the most recently inflated "
                     "pages go back to the buddy allocator", size=pages * PAGE_SIZE)

    # ----- numbers for the comparison ----------------------------------------------------
    @property
    def mem(self) -> GuestMemory:
        return self.vm.mem

    @property
    def memmap(self) -> int:
        return self.vm.boot_memmap

    @staticmethod
    def slots_used() -> int:
        return 0

    def host_thp_split(self) -> int:
        """2 MiB chunks only partly in the balloon: the host backs the rest with 4 KiB pages (its
        huge page is split), or a huge page fault or khugepaged fills the whole 2 MiB again and
        undoes the balloon there. Chunks wholly in the balloon cost the host nothing."""
        return int(((self.balloon > 0) & (self.balloon < PAGES_PER_CHUNK)).sum())

    def node_sizes(self) -> dict[int, int]:
        mem = self.vm.mem
        hidden = np.bincount(mem.chunk_node, weights=self.balloon, minlength=self.vm.config.nodes)
        return {n: s - int(hidden[n]) * PAGE_SIZE for n, s in self.vm.node_sizes().items()}

    def reported_free(self) -> int:
        """Free page reporting: free 2 MiB chunks (order >= pageblock) the host may discard too."""
        return self.vm.mem.free_chunks_2m() * PAGES_PER_CHUNK * PAGE_SIZE
