"""The virtio_mem driver's main loop (drivers/virtio/virtio_mem.c, Linux 6.1).

One *run* of the work item: UNPLUG_ALL if required, re-read the config if it changed, clean up
leftovers, then plug or unplug the difference. The loop is an explicit state machine (not a
Python generator) so a snapshot can copy it: ``step()`` does driver work until exactly one
request went to the device, or the run ended.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .device import Req, Resp, VirtioMemDevice
from .events import Kind, text_formatter, text_of
from .guest import Guest
from .memory import Zone
from .units import GiB, format_size

EAGAIN, ENOMEM, EBUSY, EINVAL, ETXTBSY, ENOSPC = 11, 12, 16, 22, 26, 28
ERRNO_NAMES = {0: "0", -EAGAIN: "-EAGAIN", -ENOMEM: "-ENOMEM", -EBUSY: "-EBUSY", -EINVAL: "-EINVAL",
               -ETXTBSY: "-ETXTBSY", -ENOSPC: "-ENOSPC"}
RESP_RC = {Resp.ACK: 0, Resp.NACK: -EAGAIN, Resp.BUSY: -ETXTBSY, Resp.ERROR: -EINVAL}

RETRY_TIMER_MIN_MS = 50_000
RETRY_TIMER_MAX_MS = 300_000
DEFAULT_OFFLINE_THRESHOLD = 1 * GiB
REQUEST_SECONDS = 0.001  # simulated cost of one request; a free parameter (no measured figures)

CONTINUE, NEXT = "continue", "next"


@dataclass
class Run:
    """Where the current work-item run is: its phase and the loop cursors of that phase."""

    phase: str = "unplug_all"
    nb: int = 0                    # subblocks / big blocks still to plug or unplug
    li: int = 0                    # index into the list order of the unplug algorithm
    cands: np.ndarray | None = None
    ci: int = 0
    cur: int = -1                  # block being worked on
    sb_cur: int = -1               # next subblock to look at (from the top)
    whole_tried: bool = False
    tiny: bool = False             # the difference is smaller than one subblock / big block (idle)


class Driver:
    """State and main loop shared by Sub Block Mode and Big Block Mode."""

    mode = "?"

    def __init__(self, guest: Guest, device: VirtioMemDevice, index: int, unit_size: int,
                 unplug_online: bool = True):
        self.guest = guest
        self.mem = guest.mem
        self.device = device
        self.index = index
        self.unit_size = unit_size
        self.unplug_online = unplug_online
        seg = next(s for s in self.mem.segments if s.device == index)
        self.seg = seg
        self.mb_off = seg.mb_off
        self.n_mb = seg.size // self.mem.mb_size
        self.sid0 = int(self.mem.mb_phys[self.mb_off])   # a segment's sysfs block numbers are consecutive
        self.chunks_per_unit = unit_size // (2 << 20)
        # The first usable unit starts at the region start rounded up to a unit; units must lie
        # completely inside the region (misaligned edges are wasted, as in the real driver).
        self.unit_base = -(-max(device.addr, seg.addr) // unit_size) * unit_size
        end = min(device.addr + device.region_size, seg.addr + seg.size) // unit_size * unit_size
        self.n_units = max(0, (end - self.unit_base) // unit_size)
        self.unit_chunk0 = seg.chunk_off + (self.unit_base - seg.addr) // (2 << 20)
        self.plugged_size = 0
        self.requested_size = 0
        self.usable_region_size = 0
        self.config_changed = True
        self.unplug_all_required = False
        self.broken = ""
        self.wq_pending = False
        self.run: Run | None = None
        self.last_rc = 0
        self.retry_timer_ms = RETRY_TIMER_MIN_MS
        self.timer_at: float | None = None
        self.blocked = ""
        self.race_pending = False
        self.offline_size = 0
        self.offline_threshold = max(DEFAULT_OFFLINE_THRESHOLD, 2 * max(unit_size, self.mem.mb_size))
        self.requests = 0
        self.low_memory = False       # a run ended with -ENOMEM; the guest notices once the runs stop

    # ----- probe ------------------------------------------------------------------------
    def probe(self) -> None:
        """virtio_mem_probe(): leftovers from before a kexec/reload need UNPLUG_ALL first."""
        d = self.device
        self.emit(Kind.DRIVER, f"virtio_mem probe: start address {d.addr:#x}, region size "
                  f"{format_size(d.region_size)}, device block size {format_size(d.block_size)}, "
                  f"{self.mode} with {self.unit_name} size {format_size(self.unit_size)}")
        if d.plugged_size:
            self.unplug_all_required = True
            self.emit(Kind.DRIVER, f"plugged size is {format_size(d.plugged_size)} at probe: the new kernel's probe "
                      "reset the virtio device, which by the spec never changes plugged memory (only a system "
                      "reset unplugs it, and kexec or a driver reload is none). The spec would let the driver "
                      "re-learn which blocks are plugged with STATE requests; Linux sends UNPLUG_ALL before "
                      "anything else (unplugging all memory is required)")
        self.plugged_size = d.plugged_size
        self.wq_pending = True

    # ----- helpers ----------------------------------------------------------------------
    unit_name = "unit"

    def emit(self, kind: Kind, text: str, **kw) -> None:
        self.guest.emit(kind, text, device=self.device.id, **kw)

    def sid(self, local_mb: int) -> int:
        return self.sid0 + local_mb

    def unit_chunks(self, unit: int, count: int = 1) -> slice:
        start = self.unit_chunk0 + unit * self.chunks_per_unit
        return slice(start, start + count * self.chunks_per_unit)

    def unit_addr(self, unit: int) -> int:
        return self.unit_base + unit * self.unit_size

    def unit_blocks(self, mb: int) -> range:
        """The memory blocks (model indexes) of the unit that memory block ``mb`` belongs to."""
        return range(mb, mb + 1)

    def last_usable_unit(self) -> int:
        """Units lying completely inside the usable region: the last one's index (-1: none)."""
        end = (self.device.addr + self.usable_region_size) // self.unit_size * self.unit_size
        return min(self.n_units, (end - self.unit_base) // self.unit_size) - 1

    def send(self, req: Req, unit: int = 0, count: int = 0, what: str | tuple = "") -> int:
        """Put one request on the virtqueue and return the driver's rc for the response.
        ``what`` says what the request is for: text, or ``(formatter id, *args)`` built when read."""
        if req != Req.UNPLUG_ALL and self.config_changed:
            return -EAGAIN
        d = self.device
        addr = self.unit_addr(unit)
        nb_blocks = count * self.unit_size // d.block_size
        ans = d.request(req, addr, nb_blocks)
        self.requests += 1
        self.guest.clock_tick(REQUEST_SECONDS)
        name = _REQ_NAMES[req]
        first = d.first_block(addr) if req != Req.UNPLUG_ALL else None
        resp = _RESP_NAMES[ans.resp]
        plugged = d.plugged_size if not ans.reason and ans.resp == Resp.ACK and req != Req.STATE else -1
        # flat: a tuple inside a tuple keeps the garbage collector tracking it longer
        text = (REQUEST_TEXT, name, first, nb_blocks, resp, ans.reason, plugged, ans.note) + \
            ((what,) if what.__class__ is str else what)
        whole = req == Req.UNPLUG_ALL
        self.guest.emit(Kind.REQUEST, text, d.id, -1 if whole else addr // self.mem.mb_size, -1, -1 if whole else addr,
                        nb_blocks * d.block_size, name, resp)
        if self.race_pending:
            self.race_pending = False
            self.config_changed = True
        if ans.resp == Resp.ACK and req in (Req.PLUG, Req.UNPLUG):
            self.plugged_size += nb_blocks * d.block_size * (1 if req == Req.PLUG else -1)
        return RESP_RC[ans.resp]

    def status(self) -> str:
        """One line for the device panel."""
        if self.broken:
            return f"broken: {self.broken}"
        if self.run is not None or self.wq_pending:
            return "working"
        if self.timer_at is not None:
            return f"waiting for retry at t={self.timer_at:.0f}s"
        if self.blocked:
            return f"blocked: {self.enospc_reason()}"
        return "idle"

    @property
    def runnable(self) -> bool:
        return not self.broken and (self.run is not None or self.wq_pending)

    # ----- notifications ----------------------------------------------------------------
    def config_change(self) -> None:
        """virtio_mem_config_changed(): remember it and queue the work item."""
        self.config_changed = True
        self.wq_pending = True
        self.blocked = ""

    def timer_fired(self) -> None:
        self.timer_at = None
        self.retry_timer_ms = min(self.retry_timer_ms * 2, RETRY_TIMER_MAX_MS)
        self.emit(Kind.RETRY, "retry timer fired: the driver tries again "
                  f"(next backoff {self.retry_timer_ms // 1000} s)")
        self.wq_pending = True

    def notify_online(self, mb: int, zone: Zone) -> None:
        self.offline_size -= self.mem.mb_size
        self.on_online(mb - self.mb_off, zone)
        if self.run is None and self.could_add(self.offline_threshold // 2) and self.blocked:
            self.wq_pending = True
            self.blocked = ""

    def notify_offline(self, mb: int) -> None:
        self.offline_size += self.mem.mb_size
        self.on_offline(mb - self.mb_off)
        if not self.unplug_online:
            self.wq_pending = True

    def could_add(self, size: int) -> bool:
        return self.offline_size + size <= self.offline_threshold

    def add_memory(self, first_mb: int, count: int) -> bool:
        """virtio_mem_add_memory(): count the block as offline until the notifier says online."""
        for k in range(count):
            self.offline_size += self.mem.mb_size
            if not self.guest.add_memory(self.mb_off + first_mb + k, self.device.id):
                self.offline_size -= self.mem.mb_size
                for j in range(k):
                    self.remove_block(first_mb + j, requeue=False)
                return False
        return True

    def remove_block(self, local_mb: int, requeue: bool = True) -> None:
        """Offline (if online) and remove a memory block. Removing one while unplugging queues the
        work item again (virtio_mem_retry() in virtio_mem_(offline_and_)remove_memory(): "We might
        have freed up memory we can now unplug, retry immediately instead of waiting"): a run that
        ends with an error after removing a block runs again at once, not on the retry timer."""
        mb = self.mb_off + local_mb
        if requeue:
            self.wq_pending = True
        if self.mem.mb_online[mb]:
            self.mem.offline_block(mb)
            self.offline_size += self.mem.mb_size
        self.mem.remove_block(mb)
        self.offline_size -= self.mem.mb_size
        sid = self.sid0 + local_mb
        self.guest.emit(Kind.BLOCK_REMOVED, (REMOVED_TEXT, sid, self.mem.memmap_per_block), self.device.id, sid)

    # ----- the work item ----------------------------------------------------------------
    def step(self) -> bool:
        """Do driver work until one request was sent or the run ended; True if a request went out."""
        if self.broken:
            return False
        if self.run is None:
            if not self.wq_pending:
                return False
            self.wq_pending = False
            self.timer_at = None          # virtio_mem_run_wq() starts with hrtimer_cancel()
            self.run = Run()
        before = self.requests
        while self.run is not None:
            outcome = self._phase_step(self.run)
            if outcome == NEXT:
                self.run.phase = _NEXT_PHASE[self.run.phase]
                if self.run.phase == "resize":
                    self._start_resize(self.run)
            elif outcome != CONTINUE:
                self._finish(int(outcome))
            if self.requests != before:
                return True
        return self.requests != before

    def _phase_step(self, run: Run) -> str | int:
        if run.phase == "unplug_all":
            if not self.unplug_all_required:
                return NEXT
            rc = self.send(Req.UNPLUG_ALL)
            if rc:
                return rc
            self.unplug_all_required = False
            self.plugged_size = 0
            return NEXT
        if run.phase == "config":
            if self.config_changed:
                self.config_changed = False
                self._refresh_config()
            return NEXT
        if run.phase == "cleanup":
            return self.cleanup_step(run)
        if run.phase == "resize":
            if run.nb == 0:
                if run.tiny:
                    run.tiny = False
                    diff = abs(self.requested_size - self.plugged_size)
                    self.emit(Kind.DRIVER, f"the difference {format_size(diff)} is smaller than one {self.unit_name} "
                              f"({format_size(self.unit_size)}): nothing to plug or unplug, the run ends "
                              "(if (!nb) return 0;) and the driver is idle until the next config change")
                return 0
            return self.plug_step(run) if self.requested_size > self.plugged_size else self.unplug_step(run)
        return 0

    def _refresh_config(self) -> None:
        d = self.device
        if d.plugged_size != self.plugged_size:
            self.emit(Kind.CONFIG, f"WARNING: device plugged_size {format_size(d.plugged_size)} differs from the "
                      f"driver's own count {format_size(self.plugged_size)}; the driver takes the device's")
            self.plugged_size = d.plugged_size
        self.usable_region_size = d.usable_region_size
        self.requested_size = d.requested_size
        self.on_usable_region()
        self.emit(Kind.CONFIG, f"driver reads the config: requested_size {format_size(self.requested_size)}, "
                  f"plugged_size {format_size(self.plugged_size)}, usable_region_size "
                  f"{format_size(self.usable_region_size)}")

    def _start_resize(self, run: Run) -> None:
        diff = self.requested_size - self.plugged_size
        run.nb = abs(diff) // self.unit_size
        run.li, run.cands, run.ci, run.cur = 0, None, 0, -1
        run.tiny = diff != 0 and run.nb == 0

    def _finish(self, rc: int) -> None:
        """The switch at the end of virtio_mem_run_wq()."""
        self.run = None
        self.last_rc = rc
        name = ERRNO_NAMES.get(rc, str(rc))
        # memory ran out (-ENOMEM): the next allocation of the guest's own work finds out, after the
        # driver's immediate re-run if the work item was queued again
        low = self.low_memory or rc == -ENOMEM
        self.low_memory = low and self.wq_pending
        if low and not self.wq_pending:
            self.guest.memory_pressure()
        if rc == 0:
            self.retry_timer_ms = RETRY_TIMER_MIN_MS
            return
        if rc == -ENOSPC:
            self.blocked = "ENOSPC"
            self.emit(Kind.DRIVER, f"run ended with -ENOSPC: {self.enospc_reason()}; no retry timer, the driver "
                      "waits for a config change or for memory to be onlined")
            return
        if rc in (-ETXTBSY, -EBUSY, -ENOMEM):
            why = {-ETXTBSY: "the device answered BUSY", -EBUSY: "all remaining plugged memory is busy",
                   -ENOMEM: "the guest is out of memory"}[rc]
            self.timer_at = self.guest.now() + self.retry_timer_ms / 1000
            if self.wq_pending:
                self.emit(Kind.RETRY, f"run ended with {name} ({why}); the retry timer is armed, but removing a "
                          "memory block in this run queued the work item again (virtio_mem_retry(): \"retry "
                          "immediately instead of waiting\"), so the driver runs again at once")
                return
            self.emit(Kind.RETRY, f"run ended with {name} ({why}); retry timer armed: next try in "
                      f"{self.retry_timer_ms // 1000} s (t={self.timer_at:.0f}s)")
            return
        if rc == -EAGAIN:
            self.emit(Kind.DRIVER, "run ended with -EAGAIN (NACK or config changed): the driver re-reads "
                      "the config and runs again at once")
            self.run = Run()
            return
        self.broken = f"{name}: the device answered ERROR, so the driver marked the device broken and stops resizing"
        self.emit(Kind.DRIVER, f"unknown error {name}, marking device broken: no further plugging or unplugging")

    def enospc_reason(self) -> str:
        if self.offline_size + self.mem.mb_size > self.offline_threshold:
            return (f"{format_size(self.offline_size)} of added memory is still offline "
                    f"(threshold {format_size(self.offline_threshold)}): nobody onlines it")
        if self.offline_size and self.offline_size + self.offline_threshold // 2 > self.offline_threshold:
            return (f"{format_size(self.offline_size)} of added memory is still offline; plugging resumes once "
                    f"at most {format_size(self.offline_threshold // 2)} is (half the threshold)")
        return "no room left: the usable region is fully used"

    # ----- mode-specific ----------------------------------------------------------------
    def plug_step(self, run: Run) -> str | int:
        raise NotImplementedError

    def unplug_step(self, run: Run) -> str | int:
        raise NotImplementedError

    def cleanup_step(self, run: Run) -> str | int:
        return NEXT

    def on_usable_region(self) -> None:
        """Recompute the last usable block id."""

    def on_online(self, local_mb: int, zone: Zone) -> None:
        """Memory notifier: MEM_ONLINE."""

    def on_offline(self, local_mb: int) -> None:
        """Memory notifier: MEM_OFFLINE."""

    def may_online(self, mb: int) -> str:
        return ""

    def reset_state(self) -> None:
        """Forget every block (the guest rebooted)."""


def request_text(name: str, first: int | None, nb_blocks: int, resp: str, reason: str, plugged: int, note: str,
                 *what) -> str:
    """A request event's sentence: what was asked (``first`` None: the whole region) and what for
    (``what``: one text, or a lazy text's id and args), the answer, why (``reason``) or the new
    plugged_size (``plugged`` >= 0), and a ``note``."""
    if first is None:
        span = "the whole region"
    else:
        span = f"device blocks {first}-{first + nb_blocks - 1}" if nb_blocks > 1 else f"device block {first}"
    what = what[0] if len(what) == 1 else text_of(what)
    text = f"{name} {span}{(' (' + what + ')') if what else ''} -> {resp}"
    if reason:
        text += f": {reason}"
    elif plugged >= 0:
        text += f"; plugged_size is now {format_size(plugged)}"
    if note:
        text += f" ({note})"
    return text


def removed_text(sid: int, memmap: int) -> str:
    return f"memory{sid} offlined and removed: sysfs memory{sid} is gone and its {format_size(memmap)} memmap is freed"


REQUEST_TEXT = text_formatter(request_text)
REMOVED_TEXT = text_formatter(removed_text)


_REQ_NAMES = {r: r.name for r in Req}
_RESP_NAMES = {r: r.name for r in Resp}
_NEXT_PHASE = {"unplug_all": "config", "config": "cleanup", "cleanup": "resize", "resize": "done"}
