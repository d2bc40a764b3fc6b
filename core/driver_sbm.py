"""Sub Block Mode: memory blocks made of subblocks (virtio_mem_sbm_* in Linux 6.1).

Plug fills partly plugged blocks first (lowest id), then reuses unused blocks, then adds new
ones. Unplug walks six state lists, each from the highest block id, and inside a block from
the highest subblock; online subblocks must first be *fake-offlined* (alloc_contig_range).
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

from .device import Req
from .driver import CONTINUE, ENOMEM, EBUSY, ENOSPC, NEXT, Driver, Run
from .events import Kind, text_formatter, text_of
from .memory import WINDOW, Page, Zone
from .units import format_size


class MbState(IntEnum):
    UNUSED = 0
    PLUGGED = 1
    OFFLINE = 2
    OFFLINE_PARTIAL = 3
    KERNEL = 4
    KERNEL_PARTIAL = 5
    MOVABLE = 6
    MOVABLE_PARTIAL = 7


PLUG_LISTS = (MbState.KERNEL_PARTIAL, MbState.MOVABLE_PARTIAL, MbState.OFFLINE_PARTIAL)
UNPLUG_LISTS = (MbState.OFFLINE_PARTIAL, MbState.OFFLINE, MbState.MOVABLE_PARTIAL,
                MbState.KERNEL_PARTIAL, MbState.MOVABLE, MbState.KERNEL)
_ONLINE_STATE = {MbState.OFFLINE: (MbState.KERNEL, MbState.MOVABLE),
                 MbState.OFFLINE_PARTIAL: (MbState.KERNEL_PARTIAL, MbState.MOVABLE_PARTIAL)}
_OFFLINE_STATE = {MbState.KERNEL: MbState.OFFLINE, MbState.MOVABLE: MbState.OFFLINE,
                  MbState.KERNEL_PARTIAL: MbState.OFFLINE_PARTIAL,
                  MbState.MOVABLE_PARTIAL: MbState.OFFLINE_PARTIAL}
_PARTIAL = {MbState.KERNEL: MbState.KERNEL_PARTIAL, MbState.MOVABLE: MbState.MOVABLE_PARTIAL,
            MbState.OFFLINE: MbState.OFFLINE_PARTIAL}
_FULL = {v: k for k, v in _PARTIAL.items()}


def what_text(sid: int, sb: int, count: int, size: int, suffix: str = "") -> str:
    """The subblocks a request or event is about: "memory1024 subblocks 0-63, 128M"."""
    sbs = f"subblock {sb}" if count == 1 else f"subblocks {sb}-{sb + count - 1}"
    return f"memory{sid} {sbs}, {format_size(size)}{suffix}"


def fake_offlined_text(size: int, migrated: int, tries: int, *what) -> str:
    moved = f"; {migrated} movable pages migrated away first" if migrated else ""
    if tries > 1:
        moved += f"; alloc_contig_range needed {tries} tries (transient references; ZONE_MOVABLE allows 5)"
    return f"{text_of(what)} fake-offlined: pages marked PageOffline, MemTotal drops by {format_size(size)}{moved}"


WHAT_TEXT = text_formatter(what_text)
FAKE_OFFLINED_TEXT = text_formatter(fake_offlined_text)


class SbmDriver(Driver):
    mode = "SBM"
    unit_name = "subblock"

    def __init__(self, guest, device, index, sb_size: int, unplug_online: bool = True):
        super().__init__(guest, device, index, sb_size, unplug_online)
        self.sbs_per_mb = self.mem.mb_size // sb_size
        self.mb_state = np.zeros(self.n_mb, dtype=np.uint8)
        self.count = np.zeros(len(MbState), dtype=np.int64)
        self.count[MbState.UNUSED] = self.n_mb
        self.next_mb = 0
        self.last_usable_mb = -1

    # ----- state bookkeeping ------------------------------------------------------------
    def sb_row(self, mb: int) -> np.ndarray:
        """Plugged bit per subblock of local memory block ``mb`` (a view of the chunk bitmap)."""
        sl = self.unit_chunks(mb * self.sbs_per_mb, self.sbs_per_mb)
        return self.mem.plugged[sl].reshape(self.sbs_per_mb, self.chunks_per_unit)[:, 0]

    def set_state(self, mb: int, state: MbState) -> None:
        self.count[self.mb_state[mb]] -= 1
        self.mb_state[mb] = state
        self.count[state] += 1

    def set_plugged(self, mb: int, sb: int, count: int, value: bool) -> None:
        self.mem.plugged[self.unit_chunks(mb * self.sbs_per_mb + sb, count)] = value

    def on_usable_region(self) -> None:
        mb = self.mem.mb_size
        end = (self.device.addr + self.usable_region_size) // mb * mb    # the last block must fit entirely
        self.last_usable_mb = min(self.n_mb, (end - self.seg.addr) // mb) - 1

    def what(self, mb: int, sb: int, count: int) -> str:
        return what_text(self.sid(mb), sb, count, count * self.unit_size)

    def lazy_what(self, mb: int, sb: int, count: int, suffix: str = "") -> tuple:
        """``what`` as ``(formatter id, *args)``, built only when someone reads the event."""
        return (WHAT_TEXT, self.sid(mb), sb, count, count * self.unit_size, suffix)

    # ----- memory notifier --------------------------------------------------------------
    def may_online(self, mb: int) -> str:
        st = int(self.mb_state[mb - self.mb_off])
        if st not in _ONLINE_STATE:
            return (f"virtio_mem refuses to online memory{self.guest.sysfs_id(mb)}: driver state is "
                    f"{MbState(st).name}")
        return ""

    def on_online(self, mb: int, zone: Zone) -> None:
        st = int(self.mb_state[mb])
        self.set_state(mb, _ONLINE_STATE[st][zone == Zone.MOVABLE])

    def on_offline(self, mb: int) -> None:
        self.set_state(mb, _OFFLINE_STATE[int(self.mb_state[mb])])

    def reset_state(self) -> None:
        self.mb_state[:] = MbState.UNUSED
        self.count[:] = 0
        self.count[MbState.UNUSED] = self.n_mb
        self.next_mb = 0

    # ----- cleanup ----------------------------------------------------------------------
    def cleanup_step(self, run: Run) -> str | int:
        """Unplug leftovers of blocks whose adding failed (state PLUGGED)."""
        if not self.count[MbState.PLUGGED]:
            return NEXT
        mb = int(np.argmax(self.mb_state == int(MbState.PLUGGED)))
        row = self.sb_row(mb)
        sb = int(np.argmax(row))
        n = int(row.sum())
        rc = self.send(Req.UNPLUG, mb * self.sbs_per_mb + sb, n, self.what(mb, sb, n) + ", leftover")
        if rc:
            return rc
        self.set_plugged(mb, sb, n, False)
        self.set_state(mb, MbState.UNUSED)
        return CONTINUE

    # ----- plug -------------------------------------------------------------------------
    def plug_step(self, run: Run) -> str | int:
        for st in PLUG_LISTS:
            if self.count[int(st)]:
                return self._plug_partial(run, int(np.argmax(self.mb_state == int(st))))
        unused_below = self.count[MbState.UNUSED] - (self.n_mb - self.next_mb)
        if unused_below > 0:
            mb = int(np.argmax(self.mb_state[:self.next_mb] == int(MbState.UNUSED)))
        else:
            if self.next_mb > self.last_usable_mb:
                return -ENOSPC
            mb = self.next_mb
        if not self.could_add(self.mem.mb_size):
            return -ENOSPC
        if mb == self.next_mb:
            self.next_mb += 1
        return self._plug_and_add(run, mb)

    def _plug_partial(self, run: Run, mb: int) -> str | int:
        row = self.sb_row(mb)
        sb = int(np.argmin(row))
        rest = row[sb:]
        gap = int(np.argmax(rest)) if rest.any() else len(rest)
        count = min(run.nb, gap)
        rc = self.send(Req.PLUG, mb * self.sbs_per_mb + sb, count, self.what(mb, sb, count) + ", filling a hole")
        if rc:
            return rc
        self.set_plugged(mb, sb, count, True)
        self.mem.fake_online(self.unit_chunks(mb * self.sbs_per_mb + sb, count))
        if row.all():
            self.set_state(mb, _FULL[int(self.mb_state[mb])])
        run.nb -= count
        return CONTINUE

    def _plug_and_add(self, run: Run, mb: int) -> str | int:
        count = min(run.nb, self.sbs_per_mb)
        rc = self.send(Req.PLUG, mb * self.sbs_per_mb, count, self.lazy_what(mb, 0, count, ", new memory block"))
        if rc:
            return rc
        self.set_plugged(mb, 0, count, True)
        self.set_state(mb, MbState.OFFLINE if count == self.sbs_per_mb else MbState.OFFLINE_PARTIAL)
        if not self.add_memory(mb, 1):
            rc2 = self.send(Req.UNPLUG, mb * self.sbs_per_mb, count, self.what(mb, 0, count) + ", undo")
            if rc2 == 0:
                self.set_plugged(mb, 0, count, False)
            self.set_state(mb, MbState.PLUGGED if rc2 else MbState.UNUSED)
            return -ENOMEM
        run.nb -= count
        return CONTINUE

    # ----- unplug -----------------------------------------------------------------------
    def unplug_step(self, run: Run) -> str | int:
        while True:
            if run.nb == 0:
                return 0
            if run.cur < 0 and not self._next_candidate(run):
                if run.li >= len(UNPLUG_LISTS):
                    return -EBUSY if run.nb else 0
                return 0
            st = int(self.mb_state[run.cur])
            if st in (MbState.OFFLINE, MbState.OFFLINE_PARTIAL):
                r = self._unplug_offline(run, run.cur)
            else:
                r = self._unplug_online(run, run.cur)
            if r is not None:
                return r

    def _next_candidate(self, run: Run) -> bool:
        while run.li < len(UNPLUG_LISTS):
            if not self.unplug_online and run.li == 2:
                return False
            st = UNPLUG_LISTS[run.li]
            if run.cands is None:
                run.cands = self._skip_hopeless(np.flatnonzero(self.mb_state[:self.next_mb] == int(st))[::-1].copy(), st)
                run.ci = 0
            while run.ci < len(run.cands):
                mb = int(run.cands[run.ci])
                run.ci += 1
                if int(self.mb_state[mb]) == st:
                    run.cur, run.sb_cur, run.whole_tried = mb, self.sbs_per_mb - 1, False
                    return True
            run.li += 1
            run.cands = None
        return False

    def _skip_hopeless(self, cands: np.ndarray, st: MbState) -> np.ndarray:
        """Drop online blocks in which every plugged subblock holds unmovable pages.

        Trying them one by one would send no request and change nothing (alloc_contig_range
        fails on every subblock, and unplugging never adds unmovable pages), so they are
        reported in one event and skipped; the requests sent stay exactly the same.
        """
        if st in (MbState.OFFLINE, MbState.OFFLINE_PARTIAL) or len(cands) < 2:
            return cands
        usable = self._usable_blocks(int(cands.min()), int(cands.max()) + 1)[cands - int(cands.min())]
        hopeless = cands[~usable]
        if len(hopeless):
            movable = st in (MbState.MOVABLE, MbState.MOVABLE_PARTIAL)
            ids = [self.sid(int(b)) for b in hopeless[:6]]
            more = f" and {len(hopeless) - 6} more" if len(hopeless) > 6 else ""
            self.emit(Kind.FAKE_OFFLINE_FAILED,
                      f"{len(hopeless)} {st.name} memory blocks (memory{', memory'.join(map(str, ids))}{more}): "
                      f"every plugged subblock holds unmovable pages, so alloc_contig_range fails on "
                      f"{'ZONE_MOVABLE' if movable else 'ZONE_NORMAL'} everywhere in them; skipped without a request",
                      memory_block=ids[0], size=len(hopeless) * self.mem.mb_size)
        return cands[usable]

    def _usable_blocks(self, lo: int, hi: int) -> np.ndarray:
        """Per memory block lo..hi-1: has it a plugged subblock without unmovable pages? Read in
        pieces of the chunk arrays (no index arrays over the region)."""
        sbs, cpu = self.sbs_per_mb, self.chunks_per_unit
        per = sbs * cpu
        usable = np.empty(hi - lo, dtype=bool)
        step = max(1, WINDOW // per)
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            sl = slice(self.seg.chunk_off + a * per, self.seg.chunk_off + b * per)
            p = self.mem.pages[:, sl]
            ok = self.mem.plugged[sl] & ((p[Page.RESERVED] | p[Page.MEMMAP] | p[Page.KERNEL] | p[Page.SLAB]) == 0)
            usable[a - lo:b - lo] = ok.reshape(b - a, sbs, cpu).all(axis=2).any(axis=1)
        return usable

    def _unplug_offline(self, run: Run, mb: int) -> str | int | None:
        """Offline blocks: no fake-offlining, merge adjacent plugged subblocks into one request."""
        row = self.sb_row(mb)
        idx = np.flatnonzero(row[:run.sb_cur + 1])
        if not len(idx):
            return self._done_with_block(run, mb)
        top = int(idx[-1])
        below = row[:top + 1][::-1]
        runlen = int(np.argmin(below)) if not below.all() else top + 1
        count = min(run.nb, runlen)
        start = top - count + 1
        rc = self.send(Req.UNPLUG, mb * self.sbs_per_mb + start, count, self.what(mb, start, count) + ", offline block")
        if rc:
            return rc
        self.set_plugged(mb, start, count, False)
        run.nb -= count
        run.sb_cur = start - 1
        if int(self.mb_state[mb]) == MbState.OFFLINE:
            self.set_state(mb, MbState.OFFLINE_PARTIAL)
        if run.nb == 0 or not row.any():
            self._done_with_block(run, mb)
        return CONTINUE

    def _unplug_online(self, run: Run, mb: int) -> str | int | None:
        """Online blocks: the whole block in one go if possible, else subblocks from the top."""
        row = self.sb_row(mb)
        movable = int(self.mem.mb_zone[self.mb_off + mb]) == Zone.MOVABLE
        sl = self.unit_chunks(mb * self.sbs_per_mb, self.sbs_per_mb)
        whole_failed = False
        if not run.whole_tried:
            run.whole_tried = True
            if run.nb >= self.sbs_per_mb and np.count_nonzero(row) == len(row):
                kinds = self.mem.pages_per_kind(sl)
                if sum(kinds[:Page.ANON]):
                    whole_failed = True
                else:
                    r = self._try_unplug_online(run, mb, 0, self.sbs_per_mb, movable, kinds)
                    if r != -EBUSY:
                        return r
        unmov = self.mem.unmovable(sl).reshape(self.sbs_per_mb, self.chunks_per_unit).sum(axis=1)
        while run.sb_cur >= 0 and run.nb > 0:
            idx = np.flatnonzero(row[:run.sb_cur + 1])
            if not len(idx):
                break
            ok = idx[unmov[idx] == 0]
            top_ok = int(ok[-1]) if len(ok) else -1
            busy = idx[idx > top_ok]
            if len(busy) or whole_failed:
                self._report_busy(mb, busy, unmov, movable, whole_failed)
                whole_failed = False
            run.sb_cur = top_ok
            if top_ok < 0:
                break
            r = self._try_unplug_online(run, mb, top_ok, 1, movable)
            run.sb_cur = top_ok - 1
            if r == -EBUSY:
                continue
            if r != CONTINUE:
                return r
            if run.nb == 0 or run.sb_cur < 0 or not row.any():
                self._done_with_block(run, mb)
            return CONTINUE
        return self._done_with_block(run, mb)

    def _try_unplug_online(self, run: Run, mb: int, sb: int, count: int, movable: bool,
                           kinds: list[int] | None = None) -> str | int:
        """virtio_mem_sbm_try_unplug_sb_online(): fake-offline, then UNPLUG; undo if refused.
        ``kinds``: pages per kind in the subblocks, if just counted."""
        sl = self.unit_chunks(mb * self.sbs_per_mb + sb, count)
        res = self.mem.fake_offline(sl, movable, kinds)
        zone = "ZONE_MOVABLE" if movable else "ZONE_NORMAL"
        if not res.ok:
            if res.errno == "ENOMEM":
                self.emit(Kind.FAKE_OFFLINE_FAILED, f"{self.what(mb, sb, count)}: alloc_contig_range failed with "
                          f"-ENOMEM: {res.reason}; the run stops",
                          memory_block=self.sid(mb), subblock=sb)
                return -ENOMEM
            self.emit(Kind.FAKE_OFFLINE_FAILED, f"{self.what(mb, sb, count)}: alloc_contig_range failed on "
                      f"{zone} after {res.tries} {'try' if res.tries == 1 else 'tries'} ({res.reason}); skipped",
                      memory_block=self.sid(mb), subblock=sb)
            return -EBUSY
        what = self.lazy_what(mb, sb, count)
        size = count * self.unit_size
        self.guest.emit(Kind.FAKE_OFFLINE, (FAKE_OFFLINED_TEXT, size, res.migrated, res.tries) + what, self.device.id,
                        self.sid0 + mb, sb, -1, size)
        rc = self.send(Req.UNPLUG, mb * self.sbs_per_mb + sb, count, what)
        if rc:
            self.mem.fake_online(sl)
            return rc
        self.set_plugged(mb, sb, count, False)
        run.nb -= count
        st = int(self.mb_state[mb])
        if st in _PARTIAL:
            self.set_state(mb, _PARTIAL[st])
        if count == self.sbs_per_mb:
            self._done_with_block(run, mb)
        return CONTINUE

    def _report_busy(self, mb: int, busy: np.ndarray, unmov: np.ndarray, movable: bool,
                     whole_failed: bool) -> None:
        """One event for the subblocks skipped in one pass (and the failed whole-block try)."""
        tries = 5 if movable else 1
        zone = "ZONE_MOVABLE" if movable else "ZONE_NORMAL"
        try_text = f"{tries} {'try' if tries == 1 else 'tries'}"
        parts = []
        if whole_failed:
            parts.append(f"unplugging the whole block at once failed ({int(unmov.sum())} unmovable pages)")
        if len(busy):
            top = busy[::-1]
            ids = ", ".join(map(str, top[:8].tolist())) + (" ..." if len(busy) > 8 else "")
            noun = "subblock" if len(busy) == 1 else "subblocks"
            verb = "holds" if len(busy) == 1 else "hold"
            pages = int(unmov[busy].sum())
            parts.append(f"{noun} {ids} {verb} {pages} unmovable {'page' if pages == 1 else 'pages'}, so "
                         f"alloc_contig_range failed on {zone} ({try_text}) and they were skipped without a request")
        self.emit(Kind.FAKE_OFFLINE_FAILED, f"memory{self.sid(mb)}: " + "; ".join(parts),
                  memory_block=self.sid(mb), subblock=int(busy[-1]) if len(busy) else -1,
                  size=len(busy) * self.unit_size)

    def _done_with_block(self, run: Run, mb: int) -> None:
        """Leave this block; if nothing is plugged any more, offline and remove it."""
        run.cur = -1
        if not np.count_nonzero(self.sb_row(mb)) and int(self.mb_state[mb]) != MbState.UNUSED:
            self.set_state(mb, MbState.UNUSED)
            self.remove_block(mb)
        return None

    # ----- views ------------------------------------------------------------------------
    def block_state_name(self, mb: int) -> str:
        return MbState(self.mb_state[mb]).name

    def state_counts(self) -> dict[str, int]:
        return {s.name: int(self.count[s]) for s in MbState if s != MbState.UNUSED and self.count[s]}
