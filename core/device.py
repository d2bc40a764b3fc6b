"""The virtio-mem device as QEMU 7.2 implements it (hw/virtio/virtio-mem.c).

Config space, one bit per device block, the usable-region rule and the request checks in
QEMU's exact order. The device never chooses blocks: the guest driver does.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .units import MiB, align_up, format_size, is_power_of_two


class Req(IntEnum):
    PLUG = 0
    UNPLUG = 1
    UNPLUG_ALL = 2
    STATE = 3


class Resp(IntEnum):
    ACK = 0
    NACK = 1
    BUSY = 2
    ERROR = 3


class BlockState(IntEnum):
    """Answer of a STATE request."""

    PLUGGED = 0
    UNPLUGGED = 1
    MIXED = 2


class DeviceConfigError(ValueError):
    """A device property QEMU would refuse."""


@dataclass(slots=True)
class Answer:
    """The device's response to one request, with QEMU's reason for a non-ACK."""

    resp: Resp
    reason: str = ""
    state: BlockState | None = None
    note: str = ""                 # what an ACK did not check (memory the host cannot back, without prealloc)


class VirtioMemDevice:
    """A virtio-mem-pci device: fixed region, device blocks, requested and plugged size."""

    def __init__(self, dev_id: str, addr: int, region_size: int, block_size: int,
                 node_id: int = 0, requested_size: int = 0, usable_extent: int = 256 * MiB,
                 prealloc: bool = False):
        if not is_power_of_two(block_size) or block_size < MiB:
            raise DeviceConfigError(
                f"block-size: {format_size(block_size)} is not allowed; QEMU needs a power of "
                "two of at least 1M (default 2M)")
        if region_size <= 0 or region_size % block_size:
            raise DeviceConfigError(
                f"size: the memory backend ({format_size(region_size)}) must be a positive "
                f"multiple of block-size {format_size(block_size)}")
        if addr % block_size:
            raise DeviceConfigError(f"memaddr: {addr:#x} is not aligned to block-size {format_size(block_size)}")
        self.id = dev_id
        self.addr = addr
        self.region_size = region_size
        self.block_size = block_size
        self.node_id = node_id
        self.usable_extent = usable_extent
        self.plugged_size = 0
        self.requested_size = 0
        self.usable_region_size = 0
        self.migrating = False
        self.prealloc = prealloc
        self.host_memory: int | None = None    # what the host can back for this device (None: no limit)
        self.bitmap = np.zeros(region_size // block_size, dtype=bool)
        self.check_requested_size(requested_size)
        self.requested_size = requested_size
        self._resize_usable_region(requested_size, can_shrink=True)

    # ----- host side -------------------------------------------------------------------
    def check_requested_size(self, size: int) -> None:
        """QEMU's checks for `qom-set ... requested-size` (it changes nothing when they fail)."""
        if size < 0 or size % self.block_size:
            raise DeviceConfigError(
                f"requested-size: {format_size(size)} is not a multiple of block-size "
                f"{format_size(self.block_size)}; allowed: 0 to {format_size(self.region_size)} "
                f"in steps of {format_size(self.block_size)}")
        if size > self.region_size:
            raise DeviceConfigError(
                f"requested-size: {format_size(size)} exceeds the device's size "
                f"{format_size(self.region_size)} (max-size); allowed: 0 to {format_size(self.region_size)}")

    def set_requested_size(self, size: int) -> bool:
        """Host changes requested-size; returns True if usable_region_size changed too."""
        self.check_requested_size(size)
        self.requested_size = size
        return self._resize_usable_region(size, can_shrink=False)

    def _resize_usable_region(self, requested: int, can_shrink: bool) -> bool:
        """QEMU: usable = min(region, requested + extent) rounded up; 0 if requested is 0."""
        new = 0 if requested == 0 else min(self.region_size,
                                           align_up(requested + self.usable_extent, self.block_size))
        if new < self.usable_region_size and not can_shrink:
            return False
        changed = new != self.usable_region_size
        self.usable_region_size = new
        return changed

    def system_reset(self) -> None:
        """System reset unplugs everything and lets the usable region shrink."""
        self._unplug_all()
        self._resize_usable_region(self.requested_size, can_shrink=True)

    # ----- guest requests, QEMU's order of checks -------------------------------------
    def _range_ok(self, addr: int, nb_blocks: int) -> str:
        size = nb_blocks * self.block_size
        if addr % self.block_size:
            return f"address {addr:#x} is not aligned to the device block size {format_size(self.block_size)}"
        if nb_blocks <= 0:
            return "nb_blocks is 0"
        if addr < self.addr or addr + size > self.addr + self.usable_region_size:
            return (f"range {addr:#x}+{format_size(size)} lies outside the usable region "
                    f"[{self.addr:#x}, {self.addr + self.usable_region_size:#x})")
        return ""

    def request(self, req: Req, addr: int = 0, nb_blocks: int = 0) -> Answer:
        """Process one request from the guest's virtqueue."""
        if req == Req.UNPLUG_ALL:
            return self._request_unplug_all()
        bs = self.block_size
        size = nb_blocks * bs
        if addr % bs or nb_blocks <= 0 or addr < self.addr or addr + size > self.addr + self.usable_region_size:
            return Answer(Resp.ERROR, self._range_ok(addr, nb_blocks))
        first = (addr - self.addr) // bs
        blocks = self.bitmap[first:first + nb_blocks]
        plugged = int(np.count_nonzero(blocks))
        if req == Req.STATE:
            return Answer(Resp.ACK, state=BlockState.PLUGGED if plugged == nb_blocks
                          else BlockState.MIXED if plugged else BlockState.UNPLUGGED)
        plug = req == Req.PLUG
        if plug and self.plugged_size + size > self.requested_size:
            return Answer(Resp.NACK, f"plugging {format_size(size)} would exceed requested-size "
                                     f"{format_size(self.requested_size)} (plugged {format_size(self.plugged_size)})")
        if plug and plugged:
            return Answer(Resp.ERROR, "some of these device blocks are already plugged")
        if not plug and plugged != nb_blocks:
            return Answer(Resp.ERROR, "some of these device blocks are already unplugged")
        if self.migrating:
            return Answer(Resp.BUSY, "a migration is running; the device cannot change its memory now")
        short = plug and self.host_memory is not None and self.plugged_size + size > self.host_memory
        if short and self.prealloc:
            return Answer(Resp.BUSY, f"prealloc=on: preallocating {format_size(size)} failed, the host can back only "
                                     f"{format_size(self.host_memory)} for this device and "
                                     f"{format_size(self.plugged_size)} is plugged (QEMU discards what it got)")
        blocks[:] = plug
        self.plugged_size += size if plug else -size
        if short:
            return Answer(Resp.ACK, note=f"the host can back only {format_size(self.host_memory)} of it: without "
                                         "prealloc=on nothing checks that now, and the guest's first touch of a "
                                         "page the host cannot supply gets the VM killed (SIGBUS on hugetlbfs; not "
                                         "modelled)")
        return Answer(Resp.ACK)

    def block_states(self, first: int, count: int) -> np.ndarray:
        """What a STATE request for each single block ``first .. first+count-1`` answers (one block per
        request, as Linux's kdump mode asks): PLUGGED or UNPLUGGED, -1 (ERROR) outside the usable region."""
        states = np.where(self.bitmap[first:first + count], np.int8(BlockState.PLUGGED), np.int8(BlockState.UNPLUGGED))
        usable = self.usable_region_size // self.block_size
        states[np.arange(first, first + count) >= usable] = -1
        return states

    def _request_unplug_all(self) -> Answer:
        if self.plugged_size and self.migrating:
            return Answer(Resp.BUSY, "a migration is running; UNPLUG_ALL must wait")
        self._unplug_all()
        self._resize_usable_region(self.requested_size, can_shrink=True)
        return Answer(Resp.ACK)

    def _unplug_all(self) -> None:
        self.bitmap[:] = False
        self.plugged_size = 0

    def first_block(self, addr: int) -> int:
        """Device block index of a guest-physical address (as QEMU's trace events print it)."""
        return (addr - self.addr) // self.block_size
