"""virtio-balloon: the VM boots at its maximum size and hides memory by inflating a balloon.

Inflating takes free 4 KiB pages one by one, the way the guest's buddy allocator hands them
out, and the host discards each one (``MADV_DONTNEED`` per 4 KiB page): a 2 MiB chunk only
partly in the balloon can no longer be backed by one host huge page (THP). Deflating gives the
most recently inflated pages back first (the balloon's page list is LIFO). The memmap of the
whole maximum size is paid from boot on; nothing grows beyond it; the balloon ignores NUMA.

Model: per 2 MiB chunk we count balloon pages (numpy), never single pages. The inflation at
boot takes ``buddy`` order (a fresh guest's free memory sits in large buddy blocks): the
smallest free fragments first, then whole free chunks in address order. Later inflations use
``scattered`` order by default: per-chunk counts drawn in proportion to each chunk's free pages
(seeded multinomial), as a guest that has run a while keeps free pages on per-cpu and low-order
free lists all over RAM. Balloon pages count as reserved pages the buddy no longer manages
(virtio-balloon lowers MemTotal). Simplifications: inflation takes free pages only (no reclaim
of page cache); host huge pages are counted from the balloon's current shape (khugepaged is
not modelled).
"""
from __future__ import annotations

import numpy as np

from ..config import MachineConfig
from ..events import Kind
from ..memory import PAGES_PER_CHUNK, GuestMemory, Page
from ..units import PAGE_SIZE, format_size, human
from .vm import PlainVM

PLACEMENTS = ("scattered", "buddy")


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


def buddy_chunks(free: np.ndarray) -> np.ndarray:
    """Chunks in the order the buddy hands out their pages: smallest free fragments (fullest
    chunks) first, whole free chunks last, ties low address first."""
    return np.argsort(free + (free == PAGES_PER_CHUNK) * PAGES_PER_CHUNK, kind="stable")


def buddy_order(n: int, free: np.ndarray) -> np.ndarray:
    """Split ``n`` pages over chunks in ``buddy_chunks`` order, each chunk filled before the next."""
    order = buddy_chunks(free)
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
                 placement: str = "scattered"):
        """``region_sizes``: (node, bytes) of the memory virtio-mem could hot-plug, booted here.

        The balloon inflates to ``boot_target`` right at boot, while the guest's free memory still
        sits in large buddy blocks: that first inflation takes whole chunks in address order.
        """
        if placement not in PLACEMENTS:
            raise ValueError(f"balloon placement: {placement!r} is not allowed; allowed: {', '.join(PLACEMENTS)}")
        per_node = [config.boot_memory // config.nodes] * config.nodes
        for node, size in region_sizes:
            per_node[node] += size
        self.vm = PlainVM(config, per_node)
        self.placement = placement
        self.max_size = sum(per_node)
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
                short = (f"only {human(got * PAGE_SIZE)} of {human((want - have) * PAGE_SIZE)} were free: "
                         "the balloon takes free pages only")
        elif want < have:
            self._deflate(have - want)
        return short

    def _inflate(self, pages: int, placement: str) -> int:
        mem = self.vm.mem
        free = mem.free_pages().astype(np.int64)
        n = min(pages, int(free.sum()))
        if n == 0:
            return 0
        if placement == "scattered":
            take = scatter(n, free, self.vm.rng)
            idx = np.flatnonzero(take)
        else:
            take = buddy_order(n, free)
            idx = buddy_chunks(free)
            idx = idx[take[idx] > 0]
        cnt = take[idx]
        mem.add_pages(Page.RESERVED, idx, cnt)
        mem.managed_pages -= n
        self.balloon[idx] += cnt
        self.layers.append((idx, cnt, placement == "buddy"))
        self.vm.emit(Kind.ALLOC, f"balloon inflated by {format_size(n * PAGE_SIZE)}: {n} pages of 4 KiB taken from "
                     f"{len(idx)} different 2 MiB chunks; the host discards them 4 KiB at a time", size=n * PAGE_SIZE)
        return n

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
            mem.add_pages(Page.RESERVED, idx, -give)
            self.balloon[idx] -= give
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
