"""Machine and device configuration: what QEMU's command line and the guest kernel's boot
parameters fix before the VM starts. Validated here, once, for every front end."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .onlining import AUTO_ONLINE_CHOICES, ONLINE_POLICIES
from .units import GiB, KiB, MiB, format_size, is_power_of_two, shown

ARCHES = {
    # arch: (pageblock size, default memory block, usable-region extent, default device block, base page)
    "x86_64": (2 * MiB, 128 * MiB, 256 * MiB, 2 * MiB, 4 * KiB),
    "arm64": (2 * MiB, 128 * MiB, 1 * GiB, 2 * MiB, 4 * KiB),
    "arm64-64k": (512 * MiB, 512 * MiB, 1 * GiB, 512 * MiB, 64 * KiB),
}
# Calibrated on the recorded Debian 6.1 guest: 1 GiB of boot RAM gave MemTotal 915420 kB,
# i.e. 116772 KiB reserved besides the boot memmap (kernel image, firmware, crash kernel, ...).
DEFAULT_KERNEL_RESERVED = 116772 * KiB
# Non-present pages of an x86-64 QEMU/SeaBIOS guest ("pages in unavailable ranges" at boot): page 0
# and 0x9f000-0xfffff (98 pages) in ZONE_DMA, 128 KiB below the end of low memory (32 pages). The
# recorded 1 GiB guest has 262014 present pages, not 262144; auto-movable counts present pages.
X86_LOW_HOLE = 98 * 4 * KiB
X86_TOP_HOLE = 32 * 4 * KiB
# Managed memory the booted kernel already uses (slab, page tables, the initramfs, per-cpu data):
# MemTotal - MemFree right after boot, 37-39 MiB on the recorded guests.
DEFAULT_BOOT_KERNEL_USED = 38 * MiB
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
    hugetlb_page_size: int = 0     # the memory backend's page size on hugetlbfs (2M, 1G); 0 = ordinary memory
    prealloc: bool = False         # QEMU prealloc=on: back a block with host memory while processing its PLUG


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
    boot_kernel_used: int = DEFAULT_BOOT_KERNEL_USED
    boot_holes: int | None = None  # non-present boot pages in bytes; None = the arch's (x86-64: 520 KiB)
    below_4g: int = 0              # boot RAM below 4 GiB, the rest from 4 GiB up (QEMU q35: 2 GiB once
    #                                RAM >= 2.75 GiB); 0 = all boot RAM in one range from address 0
    node_memory: tuple[int, ...] = ()  # boot RAM per NUMA node; () = boot_memory split evenly
    transparent_hugepage: bool = True  # khugepaged raises min_free_kbytes (Debian: THP madvise)
    movable_node: bool = False     # contig-zones onlines to ZONE_MOVABLE where no zone is in the way
    background_kernel_allocs: int = 2
    seed: int = 0
    devices: tuple[DeviceConfig, ...] = field(default_factory=lambda: (DeviceConfig(),))

    def __post_init__(self) -> None:
        # a list from JSON or TOML compares equal to the tuple it stands for
        if not isinstance(self.node_memory, tuple):
            object.__setattr__(self, "node_memory", tuple(self.node_memory))

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
        """QEMU's default block-size: the host's THP size for ordinary memory, the page size of a
        hugetlbfs backend (virtio_mem_default_block_size)."""
        if dev.block_size:
            return dev.block_size
        return max(dev.hugetlb_page_size, MiB) if dev.hugetlb_page_size else ARCHES[self.arch][3]

    @property
    def page_size(self) -> int:
        return ARCHES[self.arch][4]

    @property
    def holes(self) -> int:
        if self.boot_holes is not None:
            return self.boot_holes
        return X86_LOW_HOLE + X86_TOP_HOLE if self.arch == "x86_64" else 0

    def boot_per_node(self) -> list[int]:
        """Boot RAM of each NUMA node, in node order."""
        return list(self.node_memory) or [self.boot_memory // self.nodes] * self.nodes

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
        if self.node_memory:
            if len(self.node_memory) != self.nodes or sum(self.node_memory) != self.boot_memory \
                    or any(n <= 0 or n % self.pageblock for n in self.node_memory):
                raise ConfigError(f"machine.node_memory: {len(self.node_memory)} sizes, one per node ({self.nodes}), "
                                  f"each a positive multiple of {format_size(self.pageblock)}, adding up to "
                                  f"boot_memory {format_size(self.boot_memory)}")
        elif self.boot_memory < mb or self.boot_memory % (mb * self.nodes):
            raise ConfigError(f"machine.boot_memory: {format_size(self.boot_memory)} must be a positive multiple "
                              f"of memory_block_size x nodes ({format_size(mb * self.nodes)})")
        if self.boot_memory > 1 << 44:
            raise ConfigError("machine.boot_memory: at most 16T")
        if self.below_4g and (self.below_4g % mb or self.below_4g > 4 * GiB or self.below_4g > self.boot_memory):
            raise ConfigError(f"machine.below_4g: {format_size(self.below_4g)} is not allowed; 0 (all boot memory "
                              f"from address 0) or a multiple of {format_size(mb)} up to 4G and boot_memory")
        if not 0 <= self.boot_kernel_used <= self.boot_memory // 2:
            raise ConfigError(f"machine.boot_kernel_used: allowed 0 to {format_size(self.boot_memory // 2)}")
        if self.boot_holes is not None and not 0 <= self.boot_holes <= self.kernel_reserved:
            raise ConfigError("machine.boot_holes: allowed 0 to kernel_reserved (holes are reserved memory)")
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
        node0 = self.boot_per_node()[0]
        reserved_max = node0 * 9 // 10 - node0 // 64
        if not 0 <= self.kernel_reserved <= reserved_max:
            raise ConfigError(f"machine.kernel_reserved: too large for {format_size(node0)} of boot memory on "
                              f"node 0; allowed: 0 to {format_size(reserved_max)}")
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
            hp = d.hugetlb_page_size
            if hp and (not is_power_of_two(hp) or hp < 64 * KiB or hp > 16 * GiB):
                raise ConfigError(f"{where}.hugetlb_page_size: {format_size(hp)} is not allowed; 0 (ordinary memory) "
                                  "or a huge page size of the host: a power of two from 64K to 16G (x86-64: 2M, 1G)")
            bs = self.device_block_size(d)
            if not is_power_of_two(bs) or bs < MiB:
                raise ConfigError(f"{where}.block_size: {format_size(bs)} is not allowed; a power of two >= 1M")
            if bs < hp:
                raise ConfigError(f"{where}.block_size: {format_size(bs)} is smaller than the backend's huge page "
                                  f"({format_size(hp)}); QEMU: 'block-size' has to be at least the page size")
            unit = max(bs, mb)
            if d.region_size < unit or d.region_size % bs:
                raise ConfigError(f"{where}.region_size: {format_size(d.region_size)} must be a multiple of block_size "
                                  f"{format_size(bs)} and at least {format_size(unit)} (the larger of block_size and "
                                  "memory_block_size)")
            if d.region_size > 64 << 40:
                raise ConfigError(f"{where}.region_size: at most 64T")
            if d.requested_size % bs or not 0 <= d.requested_size <= d.region_size:
                raise ConfigError(f"{where}.requested_size: {format_size(d.requested_size)} must be a multiple of "
                                  f"block_size {format_size(bs)} from 0 to region_size {format_size(d.region_size)}")
            if d.addr is not None and d.addr % bs:
                raise ConfigError(f"{where}.addr: {d.addr:#x} must be aligned to block_size {format_size(bs)}")
