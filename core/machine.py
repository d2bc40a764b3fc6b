"""One VM: boot memory, virtio-mem devices with their drivers, a simulated clock and one RNG.

The machine knows how to build itself from a MachineConfig, step the drivers, let time pass
(retry timers), and reboot. Everything random comes from its own seeded numpy Generator.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .boot import EventSource, boot_guest, boot_memory, boot_ranges
from .config import ConfigError, MachineConfig
from .device import Answer, BlockState, Req, Resp, VirtioMemDevice
from .driver import REQUEST_SECONDS, Driver
from .driver_bbm import BbmDriver
from .driver_sbm import SbmDriver
from .events import Kind
from .frozen import FrozenMachine
from .kdump import read_vmcore
from .retries import IdenticalRetries
from .units import GiB, align_up, format_size

# Linux's MAX_PHYSMEM_BITS is at most 52 (x86-64 with 5-level paging, arm64 with LPA2).
MAX_PHYS_ADDR = 1 << 52


@dataclass
class Metrics:
    """The numbers a view plots per step."""

    time: float
    requested: int
    plugged: int
    usable: int
    mem_total: int
    mem_free: int
    memmap: int
    free_2m_chunks: int
    blocks: dict[str, int] = field(default_factory=dict)


def device_addrs(cfg: MachineConfig) -> tuple[int, ...]:
    """Where each device's region starts: its ``addr``, or right after the previous region (the
    first from 4G, above boot memory), aligned to max(1G, block sizes). ConfigError names a region
    that overlaps boot memory or another region, or ends above what Linux can address."""
    ranges = boot_ranges(cfg, cfg.boot_per_node())
    boot_end = max(align_up(r.addr + r.size, cfg.mb_size) for r in ranges)
    base = align_up(max(4 * GiB, boot_end), GiB)
    addrs: list[int] = []
    for i, d in enumerate(cfg.devices):
        where = f"devices[{i}] ({d.id}).addr"
        align = max(GiB, cfg.device_block_size(d), cfg.mb_size)
        addr = d.addr if d.addr is not None else align_up(base, align)
        for a, other in zip(addrs, cfg.devices):
            if addr < a + other.region_size and a < addr + d.region_size:
                raise ConfigError(f"{where}: region {addr:#x}+{format_size(d.region_size)} overlaps {other.id}'s "
                                  f"region {a:#x}+{format_size(other.region_size)}")
        if any(addr < align_up(r.addr + r.size, cfg.mb_size) and r.addr < addr + d.region_size for r in ranges):
            raise ConfigError(f"{where}: {addr:#x} overlaps boot memory; allowed: from {boot_end:#x} "
                              f"({format_size(boot_end)}) up")
        if addr + d.region_size > MAX_PHYS_ADDR:
            raise ConfigError(f"{where}: region {addr:#x}+{format_size(d.region_size)} ends above 4P (2^52), the "
                              "largest physical address Linux supports (MAX_PHYSMEM_BITS 52)")
        addrs.append(addr)
        base = addr + d.region_size
    return tuple(addrs)


SLEEP_REFUSED = "aborted by the guest kernel"


class Machine(EventSource):
    """A VM with boot memory and one or more virtio-mem devices."""

    MAX_SETTLE_STEPS = 10_000_000
    carry_forward_retries = True     # False: fire every retry one by one (the reference in tests)

    def __init__(self, config: MachineConfig):
        config.validate()
        super().__init__()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.devices = self._make_devices()
        self.boot_count = 0
        self._boot()

    # ----- construction -----------------------------------------------------------------
    def _make_devices(self) -> list[VirtioMemDevice]:
        cfg = self.config
        return [VirtioMemDevice(d.id, addr, d.region_size, cfg.device_block_size(d), d.node, d.requested_size,
                                cfg.usable_extent, d.prealloc)
                for d, addr in zip(cfg.devices, device_addrs(cfg))]

    def _boot(self) -> None:
        """Build guest memory as a freshly booted kernel sees it, then probe the drivers."""
        cfg = self.config
        per_node = cfg.boot_per_node()
        mb = cfg.mb_size
        # Linux adds whole memory blocks: a device's segment is the part of its region they cover
        hotplug = [(d.id, align_up(d.addr, mb), max(0, (d.addr + d.region_size) // mb * mb - align_up(d.addr, mb)),
                    d.node_id, i) for i, d in enumerate(self.devices)]
        self.mem = mem = boot_memory(cfg, per_node, hotplug, self.rng)
        self.guest = boot_guest(cfg, mem, per_node, self.rng, self)
        self.drivers: list[Driver] = []
        for i, d in enumerate(self.devices):
            sb = max(d.block_size, cfg.pageblock)
            if sb < cfg.mb_size and not cfg.force_bbm:
                drv: Driver = SbmDriver(self.guest, d, i, sb, cfg.unplug_online)
            else:
                bb = max(d.block_size, cfg.mb_size)
                if cfg.bbm_block_size >= bb:      # virtio_mem.bbm_block_size: a power of two, not smaller
                    bb = cfg.bbm_block_size
                drv = BbmDriver(self.guest, d, i, bb, cfg.unplug_online)
            self.drivers.append(drv)
        self.guest.drivers = self.drivers
        for drv in self.drivers:
            drv.probe()

    # ----- devices and time -------------------------------------------------------------
    def device(self, dev_id: str | None) -> int:
        """Index of a device by id (None = the first)."""
        if dev_id is None:
            return 0
        for i, d in enumerate(self.devices):
            if d.id == dev_id:
                return i
        raise KeyError(dev_id)

    # ----- driving the drivers ----------------------------------------------------------
    def step(self) -> bool:
        """Let the first driver with work send one request; False if every driver is quiet."""
        if self.guest.dead:
            return False
        for drv in self.drivers:
            if drv.runnable:
                drv.step()
                return True
        return False

    def settle(self, max_steps: int | None = None) -> int:
        """Step until every driver is idle, waiting for its timer, blocked or broken."""
        limit = max_steps or self.MAX_SETTLE_STEPS
        n = 0
        while n < limit and self.step():
            n += 1
        return n

    def next_timer(self) -> float | None:
        times = [d.timer_at for d in self.drivers if d.timer_at is not None and not d.broken]
        return min(times) if times else None

    def advance(self, seconds: float) -> None:
        """Let simulated time pass; retry timers that expire fire and their runs settle.

        A firing that leaves the machine exactly as it found it (a retry that gets BUSY again at
        the capped backoff) is not run again: ``core.retries`` carries the clock, the timers and
        the counters forward exactly as firing one by one would, and summarises the repeated
        events, so a year of retries costs a few runs instead of ~105,000.
        """
        self.mem.drain_lru_batch()
        target = self.clock.t + seconds
        repeats = IdenticalRetries(self, target) if self.carry_forward_retries else None
        while True:
            t = self.next_timer()
            if t is None or t > target or self.guest.dead:
                break
            if repeats is not None and repeats.carry_forward():
                continue
            watch = repeats.watch(t) if repeats is not None else None
            self.clock.t = max(self.clock.t, t)
            for drv in self.drivers:
                if drv.timer_at is not None and drv.timer_at <= self.clock.t:
                    drv.timer_fired()
            self.settle()
            if repeats is not None:
                repeats.seen(watch, t)
        self.clock.t = max(self.clock.t, target)

    def busy(self) -> bool:
        return any(d.runnable for d in self.drivers)

    # ----- host actions -----------------------------------------------------------------
    def set_requested_size(self, index: int, size: int, race: bool = False) -> None:
        dev = self.devices[index]
        old = dev.requested_size
        dev.set_requested_size(size)
        drv = self.drivers[index]
        verb = "grow" if size > dev.plugged_size else "shrink" if size < dev.plugged_size else "keep"
        self.emit(Kind.HOST, f"host: qom-set {dev.id} requested-size {format_size(size)} (was {format_size(old)}); "
                  f"the guest should {verb} to it; usable region now {format_size(dev.usable_region_size)}",
                  device=dev.id, size=size)
        if race and drv.runnable:
            drv.race_pending = True
            drv.wq_pending = True
            self.emit(Kind.HOST, "the config-change interrupt arrives late: a request already on the virtqueue "
                      "will be judged against the new requested-size", device=dev.id)
        else:
            drv.config_change()

    def set_migration(self, on: bool) -> None:
        for dev in self.devices:
            dev.migrating = on
        plugged = sum(d.plugged_size for d in self.devices)
        region = sum(d.region_size for d in self.devices)
        self.emit(Kind.HOST, "host: live migration started; the devices answer BUSY to plug/unplug requests, and QEMU "
                  f"sends only plugged blocks ({format_size(plugged)} of the {format_size(region)} device memory): "
                  "unplugged ones are skipped (RamDiscardManager, ramblock_dirty_bitmap_clear_discarded_pages)"
                  if on else "host: migration finished; requests are processed again")

    def set_host_memory(self, index: int, size: int | None) -> None:
        """How much memory the host can back for a device's plugged blocks (None: no limit)."""
        dev = self.devices[index]
        dev.host_memory = size
        if size is None:
            self.emit(Kind.HOST, f"host: {dev.id}'s memory backend may grow again without a limit", device=dev.id)
            return
        over = dev.plugged_size - size
        check = ("with prealloc=on QEMU preallocates each PLUG and answers BUSY when it cannot" if dev.prealloc else
                 "prealloc is off: PLUG requests are ACKed anyway, nothing checks it until the guest touches the "
                 "memory")
        self.emit(Kind.HOST, f"host: {dev.id}'s memory backend can hold at most {format_size(size)} (e.g. the free "
                  f"huge pages of its hugetlbfs pool); {format_size(dev.plugged_size)} is plugged"
                  + (f", {format_size(over)} more than the host can back" if over > 0 else "") + f"; {check}",
                  device=dev.id, size=size)

    def reboot(self, reset_devices: bool) -> None:
        """System reset (devices unplug everything) or kexec (no system reset: devices keep their blocks)."""
        for dev in self.devices:
            if reset_devices:
                dev.system_reset()
        self.emit(Kind.HOST, "system reset: every device unplugs all its memory and may shrink its usable "
                  "region; the guest reboots and plugs again from scratch" if reset_devices else
                  "kexec: a new kernel starts without a system reset; its driver's probe resets the virtio "
                  "device, and a device reset must not change plugged memory, so the devices still have "
                  "their memory plugged")
        self.boot_count += 1
        for dev in self.devices:
            dev.migrating = dev.migrating and not reset_devices
        events, self.pending = self.pending, []
        self._boot()
        self.pending = events + self.pending

    def kdump(self) -> None:
        """The guest kernel crashes (or has panicked) and kdump dumps it; then the VM reboots.

        The crash kernel starts from memory reserved at boot (crashkernel=), a kexec without a
        system reset: the devices keep their plugged blocks. Its virtio-mem driver answers
        /proc/vmcore's questions with STATE requests (``core.kdump``); afterwards the crash kernel
        reboots the VM, a system reset.
        """
        how = ("the panic" if self.guest.dead else "a kernel crash (echo c > /proc/sysrq-trigger)")
        self.emit(Kind.GUEST, f"{how} starts the crash kernel (kdump, loaded with kexec -p into the memory "
                  "reserved by crashkernel=): a kexec without a system reset, so every virtio-mem device keeps its "
                  "plugged blocks (the crash kernel's probe resets the virtio device, which must not change them)")
        boot = sum(r.size for r in boot_ranges(self.config, self.config.boot_per_node()))
        self.emit(Kind.GUEST, f"vmcore: the old kernel's boot memory ({format_size(boot)} from the firmware map) is "
                  "read without asking anyone; virtio-mem memory only through its driver")
        for drv in self.drivers:
            read_vmcore(self, drv)
        self.emit(Kind.GUEST, "the dump is saved; the crash kernel reboots the VM")
        self.reboot(reset_devices=True)

    def suspend(self, state: str) -> None:
        """echo STATE > /sys/power/state (freeze = suspend-to-idle, mem = suspend-to-RAM, disk = hibernation).

        Linux 6.1's virtio_mem_freeze() refuses every system sleep with -EPERM ("When restarting the
        VM, all memory is usually unplugged"), whether or not anything is plugged; the PM core then
        resumes what it had suspended and the write fails. Nothing changes.
        """
        what = {"freeze": "suspend-to-idle (s2idle)", "mem": "suspend-to-RAM", "disk": "hibernation"}[state]
        self.emit(Kind.GUEST, f"echo {state} > /sys/power/state: {what}; user space is frozen and the PM core calls "
                  "every driver's " + ("freeze" if state == "disk" else "suspend") + " callback")
        for dev in self.devices:
            self.emit(Kind.DRIVER, f"virtio_mem {dev.id}: \"save/restore not supported.\" virtio_mem_freeze() returns "
                      f"-EPERM (Linux 6.1 refuses every system sleep while the driver is bound, even with "
                      f"{format_size(dev.plugged_size)} plugged" + (": nothing to lose" if not dev.plugged_size else "")
                      + "); the device keeps its plugged blocks", device=dev.id)
        self.emit(Kind.GUEST, f"{what} {SLEEP_REFUSED}: the devices already suspended are resumed, user space thaws, "
                  "and the write fails with EPERM (Operation not permitted); the guest keeps running, nothing changed")

    def state_request(self, index: int, addr: int, nb_blocks: int) -> Answer:
        """The guest asks the device about device blocks with one STATE request (nothing changes)."""
        dev = self.devices[index]
        ans = dev.request(Req.STATE, addr, nb_blocks)
        first = dev.first_block(addr)
        span = f"device block {first}" if nb_blocks == 1 else f"device blocks {first}-{first + nb_blocks - 1}"
        state = BlockState(ans.state).name if ans.state is not None else ""
        meaning = {"PLUGGED": "every block of the range is plugged", "UNPLUGGED": "no block of the range is plugged",
                   "MIXED": "some blocks of the range are plugged, some not"}
        text = (f"STATE {span} ({format_size(nb_blocks * dev.block_size)} at {addr:#x}) -> "
                + (f"ACK: {state}: {meaning[state]}" if ans.resp == Resp.ACK else f"ERROR: {ans.reason}"))
        self.clock.t += REQUEST_SECONDS
        self.emit(Kind.REQUEST, text, device=dev.id, addr=addr, size=nb_blocks * dev.block_size, request="STATE",
                  response=ans.resp.name, memory_block=addr // self.mem.mb_size, state=state)
        return ans

    def inject_request(self, index: int, kind: str) -> None:
        """A buggy driver sends a request the spec forbids; the device answers ERROR."""
        drv = self.drivers[index]
        dev = self.devices[index]
        if kind == "misaligned":
            req, addr, nb = Req.PLUG, dev.addr + dev.block_size // 2, 1
        elif kind == "outside":
            req, addr, nb = Req.PLUG, dev.addr + dev.usable_region_size, 1
        elif kind == "double_plug":
            plugged = np.flatnonzero(dev.bitmap)
            first = int(plugged[0]) if len(plugged) else 0
            req, addr, nb = Req.PLUG, dev.addr + first * dev.block_size, 1
        else:
            free = np.flatnonzero(~dev.bitmap)
            req, addr, nb = Req.UNPLUG, dev.addr + int(free[0]) * dev.block_size, 1
        ans = dev.request(req, addr, nb)
        note = (" (QEMU checks the requested size before the block states, so a double plug with "
                "plugged_size == requested_size is NACKed; the virtio spec says the device MUST answer ERROR "
                "when a block is already plugged: here QEMU and the spec differ)" if ans.resp.name == "NACK" else "")
        self.emit(Kind.REQUEST, f"buggy driver: {req.name} at {addr:#x}, {nb} block(s) -> {ans.resp.name}: "
                  f"{ans.reason}{note}", device=dev.id, request=req.name, response=ans.resp.name, addr=addr)
        if ans.resp.name == "ERROR":
            drv.broken = "the device answered ERROR (-EINVAL): the driver marked the device broken"
            drv.run = None
            drv.timer_at = None
            self.emit(Kind.DRIVER, "virtio_mem: unknown error -EINVAL, marking device broken; this device "
                      "will neither plug nor unplug again until the guest reboots", device=dev.id)

    # ----- reading ----------------------------------------------------------------------
    def metrics(self) -> Metrics:
        blocks: dict[str, int] = {}
        for drv in self.drivers:
            for name, n in drv.state_counts().items():
                blocks[name] = blocks.get(name, 0) + n
        return Metrics(self.clock.t,
                       sum(d.requested_size for d in self.devices),
                       sum(d.plugged_size for d in self.devices),
                       sum(d.usable_region_size for d in self.devices),
                       self.mem.mem_total, self.mem.mem_free, self.mem.memmap_bytes,
                       self.mem.free_chunks_2m(), blocks)

    def snapshot(self) -> "Machine":
        """An independent copy; the memmap placement arrays are immutable and shared."""
        pending, self.pending = self.pending, []
        try:
            return copy.deepcopy(self, self.snapshot_memo())
        finally:
            self.pending = pending

    def freeze(self, previous: FrozenMachine | None = None) -> FrozenMachine:
        """A compact snapshot for time travel, sharing unchanged pieces with ``previous``."""
        return FrozenMachine(self, previous)

    def snapshot_memo(self) -> dict[int, object]:
        """deepcopy memo that shares what never changes in place: the memmap placements (a tuple
        of two arrays per block; 32768 of them at 4 TiB, each copied would cost 0.15 s)."""
        memo: dict[int, object] = {}
        for pair in self.mem.memmap_of.values():
            memo[id(pair)] = pair
            for a in pair:
                memo[id(a)] = a
        return memo

    def chunk_arrays(self) -> list[np.ndarray]:
        """The arrays whose size grows with the region: per 2 MiB chunk and per device block."""
        m = self.mem
        return [m.pages, m.plugged, m.chunk_online, m.chunk_zone, m.chunk_node, m.pins] + [d.bitmap for d in self.devices]

    def nbytes(self) -> int:
        m = self.mem
        arrays = self.chunk_arrays() + [m.mb_present, m.mb_online, m.mb_zone]
        return sum(a.nbytes for a in arrays)
