"""ACPI memory hotplug with pc-dimm devices: whole DIMMs in, whole DIMMs out.

QEMU offers at most 256 ACPI memory slots (``ACPI_MAX_RAM_SLOTS``), one DIMM each. A DIMM is
placed in the device-memory area (first fit), Linux adds its memory blocks and onlines them per
the guest's policy (contig-zones: ZONE_NORMAL). Unplugging is all-or-nothing: the guest must
offline every memory block of the DIMM; one unmovable page in any of them fails the eject, the
blocks already offlined are onlined again and QEMU emits ``MEM_UNPLUG_ERROR``.

The host uses one DIMM size. By default it is the smallest multiple of the memory block size
that lets the slots reach the maximum size (``maxmem``): 4 GiB needs 128 MiB DIMMs, 4 TiB needs
16 GiB DIMMs. To grow, the host plugs as many DIMMs as fit in the difference; to shrink, it
tries its DIMMs newest first, never going below the requested size.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import MachineConfig
from ..events import Kind
from ..memory import CHUNK_SIZE, GuestMemory, Zone
from ..units import align_up, format_size
from .vm import Area, PlainVM

ACPI_MAX_RAM_SLOTS = 256


@dataclass
class Dimm:
    """One plugged pc-dimm: where it sits and which memory blocks it brought."""

    name: str
    area: int
    addr: int
    size: int
    first_mb: int
    n_mb: int

    @property
    def blocks(self) -> range:
        return range(self.first_mb, self.first_mb + self.n_mb)


def smallest_dimm(max_growth: int, slots: int, memory_block: int) -> int:
    """The smallest DIMM size (a multiple of the memory block) that reaches ``max_growth`` in ``slots``."""
    return max(memory_block, align_up(-(-max_growth // slots), memory_block))


class DimmVM:
    """A VM with boot memory and ACPI DIMMs plugged into the areas virtio-mem would use."""

    name = "dimm"
    title = "ACPI DIMM"

    def __init__(self, config: MachineConfig, areas: tuple[Area, ...], dimm_size: int = 0,
                 slots: int = ACPI_MAX_RAM_SLOTS):
        mb = config.mb_size
        if not 1 <= slots <= ACPI_MAX_RAM_SLOTS:
            raise ValueError(f"dimm_slots: {slots} is not allowed; allowed: 1 to {ACPI_MAX_RAM_SLOTS} "
                             "(QEMU's ACPI_MAX_RAM_SLOTS)")
        largest = max(a.size for a in areas)
        if dimm_size < 0 or dimm_size % mb or dimm_size > largest:
            raise ValueError(f"dimm_size: {format_size(dimm_size)} is not allowed; allowed: 0 (auto) or a "
                             f"multiple of the memory block size {format_size(mb)} up to {format_size(largest)} "
                             "(a DIMM must fit into the hot-plug area)")
        self.vm = PlainVM(config, [config.boot_memory // config.nodes] * config.nodes, areas)
        self.slots = slots
        self.dimm_size = dimm_size or smallest_dimm(sum(a.size for a in areas), slots, mb)
        self.granularity = self.dimm_size
        self.dimms: list[Dimm] = []
        self.plugged_total = 0

    @property
    def size(self) -> int:
        return self.vm.boot_size + sum(d.size for d in self.dimms)

    @property
    def max_size(self) -> int:
        return self.vm.boot_size + min(sum(a.size for a in self.vm.areas) // self.dimm_size,
                                       self.slots) * self.dimm_size

    def area_size(self, area: int) -> int:
        return sum(d.size for d in self.dimms if d.area == area)

    # ----- host: resize one area ----------------------------------------------------------
    def resize(self, area: int, target: int) -> str:
        """Plug or unplug whole DIMMs in ``area`` towards ``target``; returns why it fell short by more
        than the DIMM size rounds ("" if it did not)."""
        have = self.area_size(area)
        if target > have:
            return self._grow(area, target - have)
        if target < have:
            return self._shrink(area, target)
        return ""

    def _grow(self, area: int, diff: int) -> str:
        for _ in range(diff // self.dimm_size):
            if len(self.dimms) >= self.slots:
                return f"all {self.slots} ACPI memory slots are in use"
            addr = self._free_addr(area)
            if addr is None:
                return "no room left for another DIMM in the device memory area (maxmem)"
            err = self._plug(area, addr)
            if err:
                return err
        return ""

    def _shrink(self, area: int, target: int) -> str:
        have = self.area_size(area)
        errors = []
        for d in [d for d in reversed(self.dimms) if d.area == area]:
            if have - d.size < target:
                continue
            err = self._unplug(d)
            if err:
                errors.append(err)
            else:
                have -= d.size
        if len(errors) > 1:
            return f"{len(errors)} DIMMs failed to unplug; first {errors[0]}"
        return "".join(errors)

    def _free_addr(self, area: int) -> int | None:
        """QEMU's memory-device address assignment: the lowest gap that fits, block aligned."""
        a = self.vm.areas[area]
        cand = a.addr
        for d in sorted((d for d in self.dimms if d.area == area), key=lambda d: d.addr):
            if cand + self.dimm_size <= d.addr:
                break
            cand = max(cand, align_up(d.addr + d.size, self.vm.mem.mb_size))
        return cand if cand + self.dimm_size <= a.addr + a.size else None

    # ----- guest: ACPI memory device add / eject -----------------------------------------
    def _plug(self, area: int, addr: int) -> str:
        mem, guest = self.vm.mem, self.vm.guest
        first_chunk = mem.chunk_of_addr(addr)
        dimm = Dimm(f"dimm{self.plugged_total}", area, addr, self.dimm_size,
                    mem.mb_of_chunk(first_chunk), self.dimm_size // mem.mb_size)
        mem.plugged[first_chunk:first_chunk + self.dimm_size // CHUNK_SIZE] = True
        for mb in dimm.blocks:
            if not mem.add_block(mb):
                for back in range(dimm.first_mb, mb):
                    mem.remove_block(back)
                mem.plugged[first_chunk:first_chunk + self.dimm_size // CHUNK_SIZE] = False
                return (f"adding {dimm.name} failed (-ENOMEM): no kernel memory left for the memmap of "
                        f"memory{guest.sysfs_id(mb)}")
        self.dimms.append(dimm)
        self.plugged_total += 1
        first, last = guest.sysfs_id(dimm.first_mb), guest.sysfs_id(dimm.blocks[-1])
        self.vm.emit(Kind.BLOCK_ADDED, f"device_add pc-dimm {dimm.name} ({format_size(dimm.size)}) at {addr:#x}: "
                     f"ACPI adds memory{first}..memory{last}, memmap {format_size(dimm.size // 64)}",
                     addr=addr, size=dimm.size)
        policy = guest.policy.auto_online_blocks
        if policy != "offline":
            for mb in dimm.blocks:
                guest.online(mb, policy, why="auto_online_blocks")
                if mem.mb_zone[mb] == Zone.NORMAL:
                    guest.background_kernel_allocs(mb)
        return ""

    def _unplug(self, dimm: Dimm) -> str:
        """ACPI eject: offline every block (undo on the first failure), then remove them all."""
        mem, guest = self.vm.mem, self.vm.guest
        done: list[tuple[int, Zone]] = []
        for mb in dimm.blocks:
            if not mem.mb_online[mb]:
                continue
            zone = Zone(int(mem.mb_zone[mb]))
            res = mem.offline_block(mb)
            if not res.ok:
                for back, z in done:
                    mem.online_block(back, z)
                reason = (f"MEM_UNPLUG_ERROR for {dimm.name}: offlining memory{guest.sysfs_id(mb)} failed "
                          f"with -{res.errno} ({res.reason})")
                self.vm.emit(Kind.ERROR, reason + f"; {len(done)} blocks offlined before it were onlined again "
                             f"and all {format_size(dimm.size)} stay plugged", memory_block=guest.sysfs_id(mb))
                return reason
            done.append((mb, zone))
        for mb in dimm.blocks:
            mem.remove_block(mb)
        first_chunk = mem.chunk_of_addr(dimm.addr)
        mem.plugged[first_chunk:first_chunk + dimm.size // CHUNK_SIZE] = False
        self.dimms.remove(dimm)
        self.vm.emit(Kind.BLOCK_REMOVED, f"device_del {dimm.name}: all {dimm.n_mb} memory blocks offlined and "
                     f"removed, {format_size(dimm.size)} and its memmap gone", size=dimm.size)
        return ""

    # ----- numbers for the comparison ----------------------------------------------------
    @property
    def mem(self) -> GuestMemory:
        return self.vm.mem

    @staticmethod
    def host_thp_split() -> int:
        """A DIMM goes as a whole: its host memory is freed in whole huge pages."""
        return 0

    def slots_used(self) -> int:
        return len(self.dimms)

    @property
    def memmap(self) -> int:
        return self.vm.boot_memmap + self.vm.mem.memmap_bytes

    def node_sizes(self) -> dict[int, int]:
        return self.vm.node_sizes()
