"""Big Block Mode: all-or-nothing big blocks of >= one memory block (virtio_mem_bbm_*).

Chosen when a subblock would not be smaller than a memory block (device block >= 128 MiB on
x86-64, or 64K-page arm64 with 512 MiB pageblocks) or with ``force_bbm``. No partial big
block ever exists: one busy page pins the whole big block.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

from .device import Req
from .driver import CONTINUE, EBUSY, ENOMEM, ENOSPC, NEXT, Driver, Run
from .events import Kind
from .memory import Zone
from .units import format_size


class BbState(IntEnum):
    UNUSED = 0
    PLUGGED = 1
    ADDED = 2
    FAKE_OFFLINE = 3


class BbmDriver(Driver):
    mode = "BBM"
    unit_name = "big block"

    def __init__(self, guest, device, index, bb_size: int, unplug_online: bool = True):
        super().__init__(guest, device, index, bb_size, unplug_online)
        self.mbs_per_bb = bb_size // self.mem.mb_size
        self.mb_skip = (self.unit_base - self.seg.addr) // self.mem.mb_size   # blocks before the first big block
        self.n_bb = self.n_units
        self.bb_state = np.zeros(self.n_bb, dtype=np.uint8)
        self.tried = np.zeros((3, self.n_bb), dtype=bool)
        self.next_bb = 0
        self.last_usable_bb = -1

    def on_usable_region(self) -> None:
        self.last_usable_bb = self.last_usable_unit()

    def bb_mbs(self, bb: int) -> range:
        first = self.mb_off + self.mb_skip + bb * self.mbs_per_bb
        return range(first, first + self.mbs_per_bb)

    def unit_blocks(self, mb: int) -> range:
        return self.bb_mbs((mb - self.mb_off - self.mb_skip) // self.mbs_per_bb)

    def what(self, bb: int) -> str:
        first = self.sid(self.mb_skip + bb * self.mbs_per_bb)
        blocks = f"memory{first}" if self.mbs_per_bb == 1 else f"memory{first}-{first + self.mbs_per_bb - 1}"
        return f"big block {bb} ({blocks}, {format_size(self.unit_size)})"

    def reset_state(self) -> None:
        self.bb_state[:] = BbState.UNUSED
        self.next_bb = 0

    def state_counts(self) -> dict[str, int]:
        """Per memory block, named like SBM states so views can colour both alike."""
        out: dict[str, int] = {}
        for bb in np.flatnonzero(self.bb_state != int(BbState.UNUSED)):
            for mb in self.bb_mbs(int(bb)):
                if not self.mem.mb_present[mb]:
                    name = BbState(self.bb_state[bb]).name
                elif not self.mem.mb_online[mb]:
                    name = "OFFLINE"
                else:
                    name = "MOVABLE" if int(self.mem.mb_zone[mb]) == Zone.MOVABLE else "KERNEL"
                out[name] = out.get(name, 0) + 1
        return out

    def block_state_name(self, mb: int) -> str:
        bb = (mb - self.mb_skip) // self.mbs_per_bb
        return BbState(self.bb_state[bb]).name if 0 <= bb < self.n_bb and mb >= self.mb_skip else "UNUSED"

    # ----- cleanup ----------------------------------------------------------------------
    def cleanup_step(self, run: Run) -> str | int:
        left = np.flatnonzero(self.bb_state == int(BbState.PLUGGED))
        if not len(left):
            return NEXT
        bb = int(left[0])
        rc = self.send(Req.UNPLUG, bb, 1, self.what(bb) + ", leftover")
        if rc:
            return rc
        self.mem.plugged[self.unit_chunks(bb)] = False
        self.bb_state[bb] = BbState.UNUSED
        return CONTINUE

    # ----- plug -------------------------------------------------------------------------
    def plug_step(self, run: Run) -> str | int:
        unused = np.flatnonzero(self.bb_state[:self.next_bb] == int(BbState.UNUSED))
        if len(unused):
            bb = int(unused[0])
        else:
            if self.next_bb > self.last_usable_bb:
                return -ENOSPC
            bb = self.next_bb
        if not self.could_add(self.unit_size):
            return -ENOSPC
        if bb == self.next_bb:
            self.next_bb += 1
        rc = self.send(Req.PLUG, bb, 1, self.what(bb) + ", whole big block")
        if rc:
            return rc
        self.mem.plugged[self.unit_chunks(bb)] = True
        self.bb_state[bb] = BbState.ADDED
        if not self.add_memory(self.mb_skip + bb * self.mbs_per_bb, self.mbs_per_bb):
            rc2 = self.send(Req.UNPLUG, bb, 1, self.what(bb) + ", undo")
            if rc2 == 0:
                self.mem.plugged[self.unit_chunks(bb)] = False
            self.bb_state[bb] = BbState.PLUGGED if rc2 else BbState.UNUSED
            return -ENOMEM
        run.nb -= 1
        return CONTINUE

    # ----- unplug -----------------------------------------------------------------------
    def _candidate(self, run: Run) -> int:
        """Three passes from the highest id: fully offline, then movable-only, then any."""
        while run.li < 3:
            added = self.bb_state[:self.next_bb] == int(BbState.ADDED)
            cand = np.flatnonzero(added & ~self.tried[run.li, :self.next_bb])[::-1]
            for bb in cand:
                bb = int(bb)
                mbs = list(self.bb_mbs(bb))
                online = self.mem.mb_online[mbs]
                if run.li == 0 and online.any():
                    continue
                if run.li == 1 and (self.mem.mb_zone[mbs][online] != int(Zone.MOVABLE)).any():
                    continue
                return bb
            if run.li == 0 and not self.unplug_online:
                return -1
            run.li += 1
        return -1

    def unplug_step(self, run: Run) -> str | int:
        if run.cands is None:  # first call in this run: every big block may be tried again
            self.tried[:] = False
            run.cands = np.zeros(0)
        while run.nb > 0:
            bb = self._candidate(run)
            if bb < 0:
                return -EBUSY if run.li >= 3 else 0
            self.tried[run.li, bb] = True
            r = self._offline_remove_and_unplug(run, bb)
            if r == -EBUSY:
                continue
            return r
        return 0

    def _offline_remove_and_unplug(self, run: Run, bb: int) -> str | int:
        mem = self.mem
        self.bb_state[bb] = BbState.FAKE_OFFLINE
        done: list[slice] = []
        for mb in self.bb_mbs(bb):
            if not mem.mb_online[mb]:
                continue
            sl = mem.mb_chunks(mb)
            res = mem.fake_offline(sl, int(mem.mb_zone[mb]) == Zone.MOVABLE)
            if not res.ok:
                for back in done:
                    mem.fake_online(back)
                self.bb_state[bb] = BbState.ADDED
                self.emit(Kind.FAKE_OFFLINE_FAILED, f"{self.what(bb)}: fake-offlining memory{self.guest.sysfs_id(mb)} "
                          f"failed with -{res.errno} ({res.reason}); the whole big block stays, "
                          "pages go back to the buddy", memory_block=self.guest.sysfs_id(mb))
                return -ENOMEM if res.errno == "ENOMEM" else -EBUSY
            done.append(sl)
        for mb in self.bb_mbs(bb):
            self.remove_block(mb - self.mb_off)
        rc = self.send(Req.UNPLUG, bb, 1, self.what(bb) + ", offlined and removed")
        if rc:
            self.bb_state[bb] = BbState.PLUGGED
            return rc
        self.mem.plugged[self.unit_chunks(bb)] = False
        self.bb_state[bb] = BbState.UNUSED
        run.nb -= 1
        return CONTINUE
