"""virtio-mem as the comparison sees it: the real model (``Machine``) behind the same few numbers."""
from __future__ import annotations

from .. import actions as act
from ..actions import Action
from ..config import MachineConfig
from ..machine import Machine
from ..memory import GuestMemory


class VirtioMemVM:
    """The sandbox's own machine, driven action by action and settled like ``vmemlab run`` does."""

    name = "virtio_mem"
    title = "virtio-mem"

    def __init__(self, config: MachineConfig):
        self.machine = Machine(config)
        self.boot_size = config.boot_memory
        self.granularity = min(d.unit_size for d in self.machine.drivers)

    def apply(self, action: Action, settle: bool) -> None:
        """Apply an action (ActionError propagates, nothing changed) and settle the drivers if asked."""
        act.apply(self.machine, action)
        if settle and act.ACTIONS[action.name].settles:
            self.machine.settle()

    @property
    def size(self) -> int:
        return self.boot_size + sum(d.plugged_size for d in self.machine.devices)

    @property
    def max_size(self) -> int:
        return self.boot_size + sum(d.region_size for d in self.machine.devices)

    @property
    def memmap(self) -> int:
        """Boot memmap (1/64 of boot memory) plus that of every added memory block."""
        return self.boot_size // 64 + self.machine.mem.memmap_bytes

    def node_sizes(self) -> dict[int, int]:
        m = self.machine
        sizes = {n: self.boot_size // m.config.nodes for n in range(m.config.nodes)}
        for d in m.devices:
            sizes[d.node_id] += d.plugged_size
        return sizes

    def status(self) -> str:
        """Why the drivers stopped short, in the driver's words ("" when all are idle)."""
        return "; ".join(f"{d.device.id}: {d.status()}" for d in self.machine.drivers
                         if not d.status().startswith("idle"))

    @property
    def mem(self) -> GuestMemory:
        return self.machine.mem

    @staticmethod
    def host_thp_split() -> int:
        """Unplug discards whole subblocks (>= 2 MiB, aligned): no host huge page is split."""
        return 0

    @staticmethod
    def slots_used() -> int:
        """virtio-mem is a PCI device: no ACPI memory slot, one KVM memslot per device."""
        return 0
