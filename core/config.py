"""Machine and device configuration: what QEMU's command line and the guest kernel's boot
parameters fix before the VM starts. Validated here, once, for every front end."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .onlining import AUTO_ONLINE_CHOICES, ONLINE_POLICIES
from .units import GiB, KiB, MiB, align_up, format_size, is_power_of_two, shown

ARCHES = {
    # arch: (pageblock size, default memory block, usable-region extent, default device block)
    "x86_64": (2 * MiB, 128 * MiB, 256 * MiB, 2 * MiB),
    "arm64": (2 * MiB, 128 * MiB, 1 * GiB, 2 * MiB),
    "arm64-64k": (512 * MiB, 512 * MiB, 1 * GiB, 512 * MiB),
}
# Calibrated on the recorded Debian 6.1 guest: 1 GiB of boot RAM gave MemTotal 915420 kB,
# i.e. 116772 KiB reserved besides the boot memmap (kernel image, firmware, crash kernel, ...).
DEFAULT_KERNEL_RESERVED = 116772 * KiB
# Linux's MAX_PHYSMEM_BITS is at most 52 (x86-64 with 5-level paging, arm64 with LPA2).
MAX_PHYS_ADDR = 1 << 52
MAX_SEED = (1 << 64) - 1
_QEMU_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*", re.ASCII)   # QEMU's id_wellformed()


class ConfigError(ValueError):
    """A configuration value that is out of range; the message names the field."""


@dataclass(frozen=True)
class DeviceConfig:
    id: str = "vmem0"
    node: int = 0
    region_size: int = 4 * GiB
    block_size: int = 0            # 0 = the arch default (2M on x86-64)
    requested_size: int = 0
    addr: int | None = None        # None = placed by the machine


@dataclass(frozen=True)
class MachineConfig:
    arch: str = "x86_64"
    boot_memory: int = 1 * GiB
    memory_block_size: int = 0     # 0 = the arch default (128M on x86-64)
    nodes: int = 1
    auto_online_blocks: str = "online"
    online_policy: str = "contig-zones"
    auto_movable_ratio: int = 301
    auto_movable_numa_aware: bool = True
    unplug_online: bool = True
    force_bbm: bool = False
    bbm_block_size: int = 0
    kernel_reserved: int = DEFAULT_KERNEL_RESERVED
    background_kernel_allocs: int = 2
    seed: int = 0
    devices: tuple[DeviceConfig, ...] = field(default_factory=lambda: (DeviceConfig(),))

    @property
    def pageblock(self) -> int:
        return ARCHES[self.arch][0]

    @property
    def mb_size(self) -> int:
        return self.memory_block_size or ARCHES[self.arch][1]

    @property
    def usable_extent(self) -> int:
        return ARCHES[self.arch][2]

    def device_block_size(self, dev: DeviceConfig) -> int:
        return dev.block_size or ARCHES[self.arch][3]

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field and the allowed values."""
        if self.arch not in ARCHES:
            raise ConfigError(f"machine.arch: {self.arch!r} is not known; allowed: {', '.join(ARCHES)}")
        mb = self.mb_size
        if not is_power_of_two(mb) or mb < self.pageblock or mb > 2 * GiB:
            raise ConfigError(f"machine.memory_block_size: {format_size(mb)} is not allowed; use a power "
                              f"of two from {format_size(self.pageblock)} to 2G (x86-64 default 128M)")
        if not 1 <= self.nodes <= 8:
            raise ConfigError(f"machine.nodes: {shown(self.nodes)} is not allowed; use 1 to 8")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"machine.seed: {shown(self.seed)} is not allowed; allowed: 0 to 2^64-1")
        if self.boot_memory < mb or self.boot_memory % (mb * self.nodes):
            raise ConfigError(f"machine.boot_memory: {format_size(self.boot_memory)} must be a positive multiple "
                              f"of memory_block_size x nodes ({format_size(mb * self.nodes)})")
        if self.boot_memory > 1 << 44:
            raise ConfigError("machine.boot_memory: at most 16T")
        if self.auto_online_blocks not in AUTO_ONLINE_CHOICES:
            raise ConfigError(f"machine.auto_online_blocks: {self.auto_online_blocks!r} is not allowed; "
                              f"allowed: {', '.join(AUTO_ONLINE_CHOICES)}")
        if self.online_policy not in ONLINE_POLICIES:
            raise ConfigError(f"machine.online_policy: {self.online_policy!r} is not allowed; "
                              f"allowed: {', '.join(ONLINE_POLICIES)}")
        if not 0 <= self.auto_movable_ratio <= 100000:
            raise ConfigError("machine.auto_movable_ratio: use a percentage from 0 to 100000 (default 301)")
        if self.bbm_block_size and not is_power_of_two(self.bbm_block_size):
            raise ConfigError("machine.bbm_block_size: must be a power of two (or 0 for the default)")
        reserved_max = self.boot_memory // self.nodes // 2
        if not 0 <= self.kernel_reserved + self.boot_memory // 64 <= reserved_max:
            raise ConfigError(f"machine.kernel_reserved: too large for {format_size(self.boot_memory)} of boot "
                              f"memory; allowed: 0 to {format_size(reserved_max - self.boot_memory // 64)}")
        if not 0 <= self.background_kernel_allocs <= 16:
            raise ConfigError("machine.background_kernel_allocs: use 0 to 16")
        if not self.devices:
            raise ConfigError("devices: at least one virtio-mem device is needed")
        ids = set()
        for i, d in enumerate(self.devices):
            where = f"devices[{i}] ({d.id})"
            if not _QEMU_ID.fullmatch(d.id):
                raise ConfigError(f"devices[{i}].id: {shown(d.id)} is not a QEMU id; allowed: a letter, then "
                                  "letters, digits, '-', '.' or '_' (e.g. vmem0)")
            if d.id in ids:
                raise ConfigError(f"{where}.id: {d.id!r} is used twice; device ids must be unique")
            ids.add(d.id)
            if not 0 <= d.node < self.nodes:
                raise ConfigError(f"{where}.node: {d.node} does not exist; allowed: 0 to {self.nodes - 1}")
            bs = self.device_block_size(d)
            if not is_power_of_two(bs) or bs < MiB:
                raise ConfigError(f"{where}.block_size: {format_size(bs)} is not allowed; a power of two >= 1M")
            unit = max(bs, mb)
            if d.region_size <= 0 or d.region_size % unit:
                raise ConfigError(f"{where}.region_size: {format_size(d.region_size)} must be a positive multiple "
                                  f"of {format_size(unit)} (the larger of block_size and memory_block_size)")
            if d.region_size > 64 << 40:
                raise ConfigError(f"{where}.region_size: at most 64T")
            if d.requested_size % bs or not 0 <= d.requested_size <= d.region_size:
                raise ConfigError(f"{where}.requested_size: {format_size(d.requested_size)} must be a multiple of "
                                  f"block_size {format_size(bs)} from 0 to region_size {format_size(d.region_size)}")
            if d.addr is not None and d.addr % max(unit, GiB):
                raise ConfigError(f"{where}.addr: {d.addr:#x} must be aligned to {format_size(max(unit, GiB))}")
        self.device_addrs()

    def device_addrs(self) -> tuple[int, ...]:
        """Where each device's region starts: its ``addr``, or right after the previous region
        (the first from 4G, above boot memory), aligned to max(1G, block sizes). Raises
        ConfigError for a region that overlaps boot memory or another region, or ends above
        what Linux can address."""
        base = align_up(max(4 * GiB, self.boot_memory), GiB)
        addrs: list[int] = []
        for i, d in enumerate(self.devices):
            where = f"devices[{i}] ({d.id}).addr"
            align = max(GiB, self.device_block_size(d), self.mb_size)
            addr = d.addr if d.addr is not None else align_up(base, align)
            for a, other in zip(addrs, self.devices):
                if addr < a + other.region_size and a < addr + d.region_size:
                    raise ConfigError(f"{where}: region {addr:#x}+{format_size(d.region_size)} overlaps {other.id}'s "
                                      f"region {a:#x}+{format_size(other.region_size)}")
            if addr < self.boot_memory:
                raise ConfigError(f"{where}: {addr:#x} overlaps boot memory; allowed: from "
                                  f"{format_size(self.boot_memory)} ({self.boot_memory:#x})")
            if addr + d.region_size > MAX_PHYS_ADDR:
                raise ConfigError(f"{where}: region {addr:#x}+{format_size(d.region_size)} ends above 4P (2^52), the "
                                  "largest physical address Linux supports (MAX_PHYSMEM_BITS 52)")
            addrs.append(addr)
            base = addr + d.region_size
        return tuple(addrs)
