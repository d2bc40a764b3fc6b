"""kdump: the crash kernel dumps the old kernel's memory through /proc/vmcore.

Linux 5.16+ (drivers/virtio/virtio_mem.c: virtio_mem_init_kdump, virtio_mem_vmcore_pfn_is_ram):
in a kdump kernel the virtio-mem driver neither plugs nor unplugs (no UNPLUG_ALL: the plugged
memory is the evidence) and registers a vmcore callback instead. Reading /proc/vmcore asks it,
page by page, whether a page of the old kernel is RAM; for a page in its region the driver sends
a STATE request for that page's device block (one block per request) and caches the last answer,
so reading in address order costs one request per device block. /proc/vmcore returns zeros for
an unplugged block instead of reading it: the guest never reads unplugged memory.

What /proc/vmcore covers is the old kernel's System RAM, its "System RAM (virtio_mem)" ranges
included: every memory block the old kernel had added, whole. The model reads all of it, as
``cp /proc/vmcore`` does (makedumpfile would also skip the pages the old memmap marks PageOffline).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .device import BlockState
from .driver import REQUEST_SECONDS
from .events import Kind
from .units import format_size

if TYPE_CHECKING:
    from .driver import Driver
    from .machine import Machine

_ANSWER = {int(BlockState.PLUGGED): "PLUGGED", int(BlockState.UNPLUGGED): "UNPLUGGED", -1: "ERROR"}


@dataclass(frozen=True)
class DumpResult:
    """What the crash kernel's reading of one device's region cost and found."""

    requests: int          # STATE requests sent
    read: int              # bytes read from plugged device blocks
    zeroed: int            # bytes /proc/vmcore returned as zeros (unplugged, never read)


def dumped_blocks(m: Machine, drv: Driver) -> np.ndarray:
    """The device blocks /proc/vmcore visits in address order: those of every memory block the
    old kernel had added (present), each once (consecutive pages of a block hit the cache)."""
    dev = m.devices[drv.index]
    mem = m.mem
    present = np.flatnonzero(mem.mb_present[drv.mb_off:drv.mb_off + drv.n_mb])
    if not len(present):
        return np.zeros(0, dtype=np.int64)
    starts = drv.seg.addr + present.astype(np.int64) * mem.mb_size - dev.addr
    if dev.block_size >= mem.mb_size:
        return np.unique(starts // dev.block_size)
    per_mb = mem.mb_size // dev.block_size
    return (starts[:, None] // dev.block_size + np.arange(per_mb)).ravel()


def read_vmcore(m: Machine, drv: Driver) -> DumpResult:
    """The crash kernel's virtio-mem driver answers /proc/vmcore's pfn_is_ram() for one device."""
    dev = m.devices[drv.index]
    bs = dev.block_size
    pages_per_block = bs // m.mem.page_size
    emit = m.emit
    emit(Kind.DRIVER, f"virtio_mem probe in the crash kernel ({dev.id}): plugged size {format_size(dev.plugged_size)} "
         "read from the config space; \"memory hot(un)plug disabled in kdump kernel\": no UNPLUG_ALL (the plugged "
         "memory is the evidence), no plugging, and a vmcore callback (pfn_is_ram) is registered", device=dev.id)
    blocks = dumped_blocks(m, drv)
    if not len(blocks):
        emit(Kind.DRIVER, f"vmcore: the old kernel had no memory block of {dev.id} added, so /proc/vmcore has nothing "
             "of its region to read", device=dev.id)
        return DumpResult(0, 0, 0)
    if not dev.plugged_size:
        zeroed = len(blocks) * bs
        emit(Kind.DRIVER, f"vmcore: plugged size is 0, so pfn_is_ram() answers 'not RAM' for every page of {dev.id} "
             f"without asking the device: {format_size(zeroed)} returned as zeros", device=dev.id)
        return DumpResult(0, 0, zeroed)
    states = dev.block_states(0, len(dev.bitmap))[blocks]
    # runs of consecutive blocks with the same answer: one event each, repeat = requests
    cut = np.flatnonzero((np.diff(states) != 0) | (np.diff(blocks) != 1)) + 1
    first_of_run = np.concatenate(([0], cut))
    end_of_run = np.concatenate((cut, [len(blocks)]))
    read = zeroed = 0
    for a, b in zip(first_of_run, end_of_run):
        n = int(b - a)
        answer = _ANSWER[int(states[a])]
        lo, hi = int(blocks[a]), int(blocks[b - 1])
        addr = dev.addr + lo * bs
        first_mb = addr // m.mem.mb_size
        last_mb = (dev.addr + (hi + 1) * bs - 1) // m.mem.mb_size
        where = f"memory{first_mb}" if first_mb == last_mb else f"memory{first_mb}-{last_mb}"
        span = f"device block {lo}" if n == 1 else f"device blocks {lo}-{hi}"
        if answer == "PLUGGED":
            read += n * bs
            outcome = "read from guest memory"
        elif answer == "UNPLUGGED":
            zeroed += n * bs
            outcome = "not RAM: /proc/vmcore returns zeros and never reads the unplugged memory"
        else:
            zeroed += n * bs
            outcome = "outside the usable region; any error counts as 'not RAM': zeros"
        m.clock.t += n * REQUEST_SECONDS
        emit(Kind.REQUEST, f"STATE {span} ({where}), one request per device block ({n} request{'s' if n > 1 else ''}; "
             f"the answer is cached for the other {pages_per_block - 1} pages of each block) -> "
             f"{'ACK: ' + answer if answer != 'ERROR' else 'ERROR'}: {outcome}",
             device=dev.id, addr=addr, size=n * bs, request="STATE", response="ACK" if answer != "ERROR" else "ERROR",
             memory_block=first_mb, repeat=n, state=answer if answer != "ERROR" else "")
    emit(Kind.DRIVER, f"vmcore: {format_size(len(blocks) * bs)} of \"System RAM (virtio_mem)\" of {dev.id} dumped with "
         f"{len(blocks)} STATE requests for {len(blocks) * pages_per_block} pfn_is_ram() calls: "
         f"{format_size(read)} read, {format_size(zeroed)} of unplugged memory returned as zeros", device=dev.id)
    return DumpResult(len(blocks), read, zeroed)
