"""Where the lowest free pages of a zone are: first-fit pointers kept up to date incrementally.

Migration targets and the memmap of a hot-added block come from the lowest-addressed free
pages of a zone (see memory.py for why the model does so). Scanning the chunk arrays from
address 0 for them costs the whole region per request, and a busy 4 TiB drain sends 32768
requests. Instead every (node, zone) keeps two *first-fit pointers*:

- ``first``: no online chunk of that node and zone below it has a free page;
- ``whole``: no online chunk of that node and zone below it is completely free (the memmap is
  mapped with 2 MiB pages, so the kernel asks for whole pageblocks first).

A search starts at the pointer, takes what it needs in address order and leaves the pointer at
the first chunk that still has room; every change that frees pages in a chunk, onlines it or
moves it to another zone calls ``freed`` with that chunk, which moves the pointers of the
chunk's own node and zone back to it. Searches read windows that grow from 64 chunks, so a
search that finds its pages near the pointer costs a few numpy calls at any region size.
The pointers only decide where a search starts, never what it finds: a search from address 0
returns the same pages.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .units import PAGE_SIZE, PAGEBLOCK_SIZE

if TYPE_CHECKING:
    from .memory import GuestMemory

PAGES_PER_CHUNK = PAGEBLOCK_SIZE // PAGE_SIZE
NEAR = 4          # chunks looked at one by one at the pointer before reading windows
FIRST_WINDOW = 64
MAX_WINDOW = 1 << 16
_KEY = 8          # a (node, zone) pair as one number: node * _KEY + zone


class FreeSpace:
    """First-fit pointers per (node, zone) over one GuestMemory's chunk arrays."""

    __slots__ = ("first", "whole")

    def __init__(self) -> None:
        self.first: dict[tuple[int, int], int] = {}
        self.whole: dict[tuple[int, int], int] = {}

    # ----- keeping the pointers valid ---------------------------------------------------------
    def _lower(self, node: int, zone: int, chunk: int) -> None:
        """Free space may have appeared at ``chunk`` of (node, zone)."""
        key = (node, zone)
        if self.first.get(key, 0) > chunk:
            self.first[key] = chunk
        if self.whole.get(key, 0) > chunk:
            self.whole[key] = chunk

    def freed(self, mem: GuestMemory, where: slice | np.ndarray | int) -> None:
        """Free space may have appeared in these chunks (pages freed, chunks onlined or moved to
        another zone): the pointers of their node and zone must not be above them."""
        if not self.first and not self.whole:
            return
        if isinstance(where, (int, np.integer)):
            c = int(where)
            self._lower(int(mem.chunk_node[c]), int(mem.chunk_zone[c]), c)
            return
        if isinstance(where, slice):
            if where.stop - where.start <= mem.chunks_per_mb and \
                    where.start // mem.chunks_per_mb == (where.stop - 1) // mem.chunks_per_mb:
                zones = mem.chunk_zone[where]
                if zones.min() == zones.max():          # one block, one zone (all but ZONE_DMA's block)
                    self._lower(int(mem.chunk_node[where.start]), int(zones[0]), where.start)
                    return
            where = np.arange(where.start, where.stop)
        if not len(where):
            return
        keys = mem.chunk_node[where].astype(np.int16) * _KEY + mem.chunk_zone[where]
        lo, hi = int(keys.min()), int(keys.max())
        if lo == hi:
            self._lower(lo // _KEY, lo % _KEY, int(where.min()))
            return
        for k in np.unique(keys).tolist():
            self._lower(k // _KEY, k % _KEY, int(where[keys == k].min()))

    # ----- searches ---------------------------------------------------------------------------
    def take_lowest(self, mem: GuestMemory, node: int, zone: int, want: int,
                    exclude: slice | None = None) -> tuple[list[np.ndarray], list[np.ndarray], int]:
        """The lowest-addressed free pages of (node, zone), up to ``want``, never in ``exclude``.

        Returns (chunk index arrays, page count arrays, pages found); the last chunk may be
        taken in part. Moves the ``first`` pointer past what was taken."""
        key = (node, zone)
        start = pos = self.first.get(key, 0)
        n = mem.n_chunks
        ex_lo, ex_hi = (exclude.start, exclude.stop) if exclude is not None else (n, n)
        idxs: list[np.ndarray] = []
        cnts: list[np.ndarray] = []
        left = want
        stop_at = -1
        # the usual case: the pointer's chunk (and the next few) have the room; scalar reads
        near: list[int] = []
        near_cnt: list[int] = []
        for _ in range(NEAR):
            if left <= 0 or pos >= n or ex_lo <= pos < ex_hi or not mem.chunk_online[pos] \
                    or mem.chunk_zone[pos] != zone or mem.chunk_node[pos] != node:
                break
            room = PAGES_PER_CHUNK - sum(mem.pages[:, pos].tolist())
            if room > 0:
                got = min(room, left)
                near.append(pos)
                near_cnt.append(got)
                left -= got
                if got < room:
                    stop_at = pos
                    break
            pos += 1
        if near:
            idxs.append(np.array(near))
            cnts.append(np.array(near_cnt, dtype=np.int64))
        window = FIRST_WINDOW
        while left > 0 and pos < n:
            end = min(n, pos + window)
            sl = slice(pos, end)
            ok = mem.chunk_online[sl] & (mem.chunk_zone[sl] == zone) & (mem.chunk_node[sl] == node)
            if ex_lo < end and pos < ex_hi:
                ok[max(ex_lo, pos) - pos:min(ex_hi, end) - pos] = False
            free = np.where(ok, PAGES_PER_CHUNK - mem.pages[:, sl].sum(axis=0, dtype=np.int16), 0)
            cand = np.flatnonzero(free)
            if len(cand):
                f = free[cand].astype(np.int64)
                cum = np.cumsum(f)
                if cum[-1] <= left:
                    idxs.append(cand + pos)
                    cnts.append(f)
                    left -= int(cum[-1])
                else:
                    k = int(np.searchsorted(cum, left))
                    rest = int(cum[k]) - left          # pages left free in the last chunk
                    take = f[:k + 1]
                    take[-1] -= rest
                    idxs.append(cand[:k + 1] + pos)
                    cnts.append(take)
                    stop_at = pos + int(cand[k]) + (0 if rest else 1)
                    left = 0
                    break
            pos = end
            window = min(window * 4, MAX_WINDOW)
        if want > 0:
            hint = pos if stop_at < 0 else stop_at
            if ex_lo < hint and start < ex_hi:      # the excluded chunks may still have room
                hint = min(hint, max(ex_lo, start))
            self.first[key] = hint
        return idxs, cnts, want - left

    def whole_chunks(self, mem: GuestMemory, node: int, zone: int, span: list[int], want: int) -> np.ndarray:
        """Up to ``want`` completely free online chunks of (node, zone), lowest first, inside the
        zone's span (memory blocks ``span[0]..span[1]``); moves the ``whole`` pointer."""
        key = (node, zone)
        cpm = mem.chunks_per_mb
        pos = max(self.whole.get(key, 0), span[0] * cpm)
        end = (span[1] + 1) * cpm
        if want == 1 and pos < end and mem.chunk_online[pos] and mem.chunk_zone[pos] == zone \
                and mem.chunk_node[pos] == node and not any(mem.pages[:, pos].tolist()):
            self.whole[key] = pos + 1          # the usual case: the pointer is at a whole free chunk
            return np.array([pos])
        found: list[np.ndarray] = []
        have = 0
        window = FIRST_WINDOW
        while pos < end and have < want:
            sl = slice(pos, min(end, pos + window))
            ok = (mem.chunk_online[sl] & (mem.chunk_zone[sl] == zone) & (mem.chunk_node[sl] == node)
                  & ~mem.pages[:, sl].any(axis=0))
            idx = np.flatnonzero(ok)
            if len(idx):
                found.append(idx[:want - have] + pos)
                have += len(found[-1])
            elif not found:
                self.whole[key] = sl.stop
            pos = sl.stop
            window = min(window * 4, MAX_WINDOW)
        if have < want:
            return np.zeros(0, np.int64)
        idx = np.concatenate(found)
        self.whole[key] = int(idx[-1]) + 1     # everything before it is taken or not whole-free
        return idx

    def whole_first(self, mem: GuestMemory, node: int, zone: int, want: int) -> tuple[np.ndarray, np.ndarray]:
        """Free pages of (node, zone) up to ``want``: completely free chunks first, then the others,
        each lowest first (for less than a pageblock simply the lowest). The memmap's fallback
        when too few whole chunks are left (rare: it reads the zone in windows and leaves the
        pointers alone)."""
        pos = self.first.get((node, zone), 0)
        whole: list[np.ndarray] = []
        part: list[np.ndarray] = []
        part_free: list[np.ndarray] = []
        while pos < mem.n_chunks:
            sl = slice(pos, min(mem.n_chunks, pos + MAX_WINDOW))
            ok = mem.chunk_online[sl] & (mem.chunk_zone[sl] == zone) & (mem.chunk_node[sl] == node)
            free = np.where(ok, PAGES_PER_CHUNK - mem.pages[:, sl].sum(axis=0, dtype=np.int16), 0)
            whole.append(np.flatnonzero(free == PAGES_PER_CHUNK) + pos)
            some = np.flatnonzero((free > 0) & (free < PAGES_PER_CHUNK))
            part.append(some + pos)
            part_free.append(free[some].astype(np.int64))
            pos = sl.stop
        w = np.concatenate(whole) if whole else np.zeros(0, np.int64)
        cand = np.concatenate([w] + part)
        f = np.concatenate([np.full(len(w), PAGES_PER_CHUNK, np.int64)] + part_free)
        if want < PAGES_PER_CHUNK:          # less than a pageblock: simply the lowest free pages
            order = np.argsort(cand, kind="stable")
            cand, f = cand[order], f[order]
        cum = np.cumsum(f)
        if not len(cum) or cum[-1] <= want:
            return cand, f
        k = int(np.searchsorted(cum, want))
        take = f[:k + 1].copy()
        take[-1] -= int(cum[k]) - want
        return cand[:k + 1], take
