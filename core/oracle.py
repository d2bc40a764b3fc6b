"""Replay traces of the real Linux 6.1 driver and QEMU 7.2 device, and score the model strictly.

A trace (recorded by ../shared/oracle/trace.py) gives, per step, the device-side requests from
QEMU's trace events, the plugged and usable sizes, MemTotal/MemFree and every memory block's
sysfs state. ``replay`` builds the same VM from the trace's boot state (QEMU command line, kernel
command line, the guest's state right after boot), applies the same steps (host resizes, QMP
refusals, resets, sleeps and the harness's guest workloads) and compares every step after boot:
where the model and the trace disagree, the trace is right.

The score (``Report.score``) counts only checks that compare something:

- traces without a guest workload: plugged size (per device), MemTotal and the outcome
  (reached / stalled / guest-dead / refused) must be equal; before the first step at which the
  real guest stalls (keeps at least one whole subblock or big block more than requested), the
  device requests and the memory-block table (present, online, zone and plugged device blocks
  of each memoryN) must be equal too (the requests of each device in order: how two drivers'
  work items interleave is up to the scheduler). After such a stall, which subblocks stay is
  the kernel's non-deterministic choice of where its own pages landed.
- workload traces (fill / slab / hog): plugged size within max(16 MiB, 10 %) per device and the
  same outcome; MemFree is reported beside it.

The usable region is QEMU arithmetic: reported, never scored. The default placement uses only
what is known before each step (the boot state, the workload commands, the seed);
``placement="trace"`` pins the kernel's unmovable pages where the trace shows them stuck, a
diagnostic that reads the answer from the trace and is labelled as such.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .config import ARCHES, ConfigError, DeviceConfig, MachineConfig, X86_LOW_HOLE, X86_TOP_HOLE
from .device import DeviceConfigError
from .events import Kind
from .machine import Machine
from .memory import PAGES_PER_CHUNK, ZONE_NAMES, Page, Zone
from .onlining import AUTO_ONLINE_CHOICES, ONLINE_POLICIES
from .units import GiB, KiB, MiB, PAGE_SIZE, SizeError, format_size, parse_size

STEP_GRAMMAR = ("SIZE, resend, fill:SIZE, unfill, slab:N, unslab, hog:SIZE, unhog, sleep:SECONDS, snap, reset, "
                "vmem1:SIZE")
WORKLOAD_PREFIXES = ("fill:", "slab:", "hog:")
PLACEMENTS = ("seeded", "trace")
# After `rm -rf` + drop_caches, SLUB keeps slab pages that still hold a live object from another
# cache (partial slabs). slab-normal shows 8 of about 58 slab pageblocks left: about one in six.
SLUB_PARTIAL_FRACTION = 1 / 6
# Slab memory per empty tmpfs file (shmem inode, dentry, LSM blob): slab-normal grew by
# 117 MiB of slab for the 114k files its tmpfs inode limit allowed.
SLAB_BYTES_PER_FILE = 1 * KiB
WORKLOAD_TOLERANCE = (16 * MiB, 0.10)
DEAD_CONSOLE = ("Kernel panic", "Out of memory", "invoked oom-killer")


class TraceError(ValueError):
    """A trace the replay cannot use. The message is one line and names the field."""


# ----- what one side shows after a step -------------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One device request as QEMU traced it: device, op, first device block, block count, response."""

    dev: str
    op: str
    first: int
    nb: int
    resp: str

    def text(self, with_dev: bool) -> str:
        pre = f"{self.dev}:" if with_dev else ""
        tail = "" if self.resp == "ACK" else f"={self.resp}"
        if self.op == "unplug_all":
            return f"{pre}unplug_all{tail}"
        return f"{pre}{self.op}[{self.first}+{self.nb}]{tail}"


@dataclass(frozen=True)
class BlockView:
    present: bool
    online: bool
    zone: str
    plugged: str          # one '0'/'1' per device block of the memory block ('' if a device block is larger)

    def label(self) -> str:
        state = ("online " + self.zone) if self.online else "offline" if self.present else "absent"
        return f"{state}, {self.plugged.count('1')} plugged" if self.plugged else state

    def to_dict(self) -> dict:
        return {"present": self.present, "online": self.online, "zone": self.zone, "plugged": self.plugged}


@dataclass
class Observed:
    """What one side (the real system or the model) shows after a step."""

    ops: list[Op]
    plugged: dict[str, int]
    usable: dict[str, int | None]
    requested: dict[str, int]
    mem_total: int | None
    mem_free: int | None
    blocks: dict[int, BlockView] | None
    outcome: str          # reached / stalled / guest-dead / refused

    def to_dict(self, with_dev: bool) -> dict:
        return {"ops": [o.text(with_dev) for o in self.ops], "plugged": sum(self.plugged.values()),
                "usable": sum(v or 0 for v in self.usable.values()), "MemTotal": self.mem_total,
                "MemFree": self.mem_free,
                "blocks": None if self.blocks is None else {str(k): v.to_dict() for k, v in sorted(self.blocks.items())},
                "outcome": self.outcome,
                "devices": {d: {"plugged": self.plugged[d], "usable": self.usable.get(d),
                                "requested": self.requested.get(d)} for d in self.plugged}}


@dataclass
class StepDiff:
    index: int
    spec: str
    real: Observed
    model: Observed
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


@dataclass
class Report:
    name: str
    path: str = ""
    workload: bool = False
    steps: list[StepDiff] = field(default_factory=list)
    kernel: str = "?"
    qemu: str = "?"
    setup: str = ""
    placement: str = "seeded"
    error: str = ""
    devices: tuple[str, ...] = ("vmem0",)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(v for s in self.steps for v in s.checks.values())

    @property
    def total(self) -> int:
        return sum(len(s.checks) for s in self.steps)

    @property
    def score(self) -> float:
        """Share of checks that passed; 0 for a trace that could not run (or had nothing to check)."""
        if self.error or not self.total:
            return 0.0
        return self.passed / self.total

    @property
    def exact(self) -> bool:
        return not self.error and self.total > 0 and self.passed == self.total


# ----- reading a trace --------------------------------------------------------------------------
def load(path: str | Path) -> dict:
    """Read a trace file; TraceError (one line) if it is not readable JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise TraceError(f"cannot read the file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TraceError("not a text file (a trace is JSON)") from None
    except json.JSONDecodeError as e:
        raise TraceError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def _get(d: object, path: str, kind: type, where: str = "") -> object:
    """d[a][b]... by dotted path; TraceError naming the path when missing or of the wrong type."""
    cur = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise TraceError(f"{where}{path}: missing")
        cur = cur[part]
    if not isinstance(cur, kind) or (isinstance(cur, bool) and kind is not bool):
        raise TraceError(f"{where}{path}: expected {kind.__name__}, got {type(cur).__name__} {str(cur)[:40]!r}")
    return cur


def _size(text: str, where: str) -> int:
    try:
        return parse_size(text.strip(), where)
    except (SizeError, AttributeError):
        raise TraceError(f"{where}: {text!r} is not a size") from None


def _opts(value: str) -> tuple[str, dict[str, str]]:
    """'virtio-mem-pci,id=vmem0,block-size=2M' -> ('virtio-mem-pci', {'id': 'vmem0', ...})."""
    head, *rest = value.split(",")
    kv = {}
    for item in rest:
        k, eq, v = item.partition("=")
        kv[k] = v if eq else "on"
    return head, kv


@dataclass(frozen=True)
class QemuSetup:
    machine: str
    boot: int
    maxmem: int
    backends: dict[str, int]
    devices: list[dict[str, str]]
    numa: list[tuple[int, str]]


def parse_qemu(cmd: object) -> QemuSetup:
    """The parts of QEMU's command line that shape guest memory."""
    where = "meta.qemu_cmdline"
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
        raise TraceError(f"{where}: expected the QEMU command line as a list of strings")
    machine, boot, maxmem = "q35", None, 0
    backends: dict[str, int] = {}
    devices, numa = [], []
    for i, arg in enumerate(cmd):
        val = cmd[i + 1] if i + 1 < len(cmd) else ""
        if arg == "-m":
            first, kv = _opts(val)
            parts = dict(kv)
            if "=" in first:
                k, _, v = first.partition("=")
                parts[k] = v
            elif first:
                parts["size"] = first
            for k in parts:
                if k not in ("size", "slots", "maxmem"):
                    raise TraceError(f"{where}: -m option {k!r} is not understood; allowed: size, slots, maxmem")
            if "size" not in parts:
                raise TraceError(f"{where}: -m gives no memory size")
            boot = _size(parts["size"], f"{where} -m size")
            maxmem = _size(parts.get("maxmem", parts["size"]), f"{where} -m maxmem")
        elif arg in ("-machine", "-M"):
            head, kv = _opts(val)
            machine = kv.get("type", head) if "=" in head or not head else head
            if head.startswith("type="):
                machine = head[5:]
        elif arg == "-object":
            head, kv = _opts(val)
            if head.startswith("memory-backend"):
                if "id" not in kv or "size" not in kv:
                    raise TraceError(f"{where}: -object {val}: a memory backend needs id= and size=")
                backends[kv["id"]] = _size(kv["size"], f"{where} -object {kv['id']} size")
        elif arg == "-device":
            head, kv = _opts(val)
            if head.startswith("virtio-mem"):
                devices.append(kv)
        elif arg == "-numa":
            head, kv = _opts(val)
            if head == "node":
                if "memdev" not in kv:
                    raise TraceError(f"{where}: -numa {val}: only memdev= nodes are modelled")
                numa.append((int(kv.get("nodeid", len(numa))), kv["memdev"]))
    if boot is None:
        raise TraceError(f"{where}: no -m option (boot memory size)")
    if not devices:
        raise TraceError(f"{where}: no -device virtio-mem-pci")
    if not (machine.startswith("pc") or machine.startswith("q35")):
        raise TraceError(f"{where}: -machine {machine} is not modelled; allowed: q35, pc (x86-64)")
    return QemuSetup(machine, boot, maxmem, backends, devices, numa)


def below_4g(machine: str, boot: int) -> int:
    """QEMU's split of boot RAM around the PCI hole: q35 keeps 2 GiB below 4 GiB once RAM reaches
    2.75 GiB, pc 3 GiB once it reaches 3.5 GiB; smaller guests have all RAM below 4 GiB."""
    if "q35" in machine:
        return boot if boot < 0xB0000000 else 2 * GiB
    return boot if boot < 0xE0000000 else 3 * GiB


def _kstrtobool(text: str, where: str) -> bool:
    t = text.strip().lower()
    if t in ("y", "yes", "1", "on", "true", "t"):
        return True
    if t in ("n", "no", "0", "off", "false", "f"):
        return False
    raise TraceError(f"{where}: {text!r} is not a boolean; allowed: y, n, 1, 0")


def parse_cmdline(text: object) -> dict[str, str]:
    """The guest kernel's command line as a dict (flags map to '')."""
    where = "meta.kernel_cmdline"
    if not isinstance(text, str):
        raise TraceError(f"{where}: expected a string")
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise TraceError(f"{where}: {e} (unbalanced quotes?)") from None
    out = {}
    for w in words:
        k, _, v = w.partition("=")
        out[k] = v
    return out


@dataclass
class Plan:
    """A parsed trace: the VM's boot state and configuration, and the steps to apply."""

    trace: dict
    name: str
    config: MachineConfig
    dev_ids: tuple[str, ...]
    units: dict[str, int]            # the real driver's subblock / big block size per device
    workload: bool
    boot_used: int                   # MemTotal - MemFree after boot (bytes)
    boot_total: int
    t_ready: float
    notes: list[str]

    @property
    def meta(self) -> dict:
        return self.trace["meta"]


def _probe_units(step0: dict) -> dict[int, int]:
    """Start address -> subblock / big block size, from the driver's probe lines after boot."""
    lines = [str(line) for line in step0.get("dmesg_virtio_mem") or []]
    if not any("start address" in line for line in lines):
        raise TraceError("steps[0].guest.dmesg_virtio_mem: no virtio_mem probe line: the guest's driver did not load")
    addr: dict[str, int] = {}
    out: dict[int, int] = {}
    for line in lines:
        m = re.search(r"virtio_mem (\S+): (start address|subblock size|big block size): (0x[0-9a-fA-F]+)", line)
        if not m:
            continue
        if m.group(2) == "start address":
            addr[m.group(1)] = int(m.group(3), 16)
        elif m.group(1) in addr:
            out[addr[m.group(1)]] = int(m.group(3), 16)
    return out


def parse(trace: object) -> Plan:
    """Check a trace's schema and turn its metadata into a machine configuration."""
    if not isinstance(trace, dict):
        raise TraceError("the file holds no trace object ({meta, steps})")
    meta = trace.get("meta")
    if not isinstance(meta, dict):
        raise TraceError("meta: missing (a trace starts with the harness's meta object)")
    steps = trace.get("steps")
    if not isinstance(steps, list) or not steps:
        raise TraceError("steps: missing or empty (step 0 is the state after boot)")
    for i, s in enumerate(steps):
        if not isinstance(s, dict):
            raise TraceError(f"steps[{i}]: expected an object")
        spec = s.get("spec")
        if not isinstance(spec, str):
            raise TraceError(f"steps[{i}].spec: missing")
        _spec_kind(spec, f"steps[{i}].spec")
        _get(s, "requested_size", int, f"steps[{i}].")
        if not s.get("guest_dead"):
            _get(s, "settle.reason", str, f"steps[{i}].")
            _get(s, "qmp.query_memory_devices.size", int, f"steps[{i}].")
            _get(s, "guest.meminfo_kB.MemTotal", int, f"steps[{i}].")
            _get(s, "guest.device_memory_blocks", list, f"steps[{i}].")
            if not isinstance(s.get("device", {}).get("ops", []), list):
                raise TraceError(f"steps[{i}].device.ops: expected a list")
    if steps[0].get("guest_dead"):
        raise TraceError("steps[0]: the guest did not boot (guest_dead at step 0)")
    if steps[0]["spec"] != "snap":
        raise TraceError(f"steps[0].spec: {steps[0]['spec']!r}; step 0 must be the snapshot after boot ('snap')")
    q = parse_qemu(meta.get("qemu_cmdline"))
    args = parse_cmdline(meta.get("kernel_cmdline"))
    g0 = steps[0]["guest"]
    mb_size = _get(g0, "block_size_bytes", int, "steps[0].guest.")
    mem_total0 = _get(g0, "meminfo_kB.MemTotal", int, "steps[0].guest.") * KiB
    mem_free0 = _get(g0, "meminfo_kB.MemFree", int, "steps[0].guest.") * KiB
    info0 = _get(steps[0], "qmp.query_memory_devices", dict, "steps[0].")
    # devices: vmem0 from the main QMP record, vmem1 from the harness's second-device record
    qmp_of = {str(info0.get("id", "vmem0")): info0}
    if isinstance(steps[0].get("vmem1"), dict):
        qmp_of["vmem1"] = _get(steps[0], "vmem1.query_memory_devices", dict, "steps[0].")
    devs, dev_ids = [], []
    nodes = sorted(n for n, _ in q.numa) or [0]
    for d in q.devices:
        dev_id = d.get("id", f"vmem{len(devs)}")
        if dev_id not in qmp_of:
            raise TraceError(f"steps[0]: no query-memory-devices record of {dev_id}")
        memdev = d.get("memdev")
        if memdev not in q.backends:
            raise TraceError(f"meta.qemu_cmdline: {dev_id} memdev={memdev!r} has no -object memory-backend")
        info = qmp_of[dev_id]
        node = int(d.get("node", 0))
        if node not in nodes:
            raise TraceError(f"meta.qemu_cmdline: {dev_id} node={node} but the guest has nodes {nodes}")
        bs = _size(d.get("block-size", "2M"), f"meta.qemu_cmdline {dev_id} block-size")
        devs.append(DeviceConfig(dev_id, nodes.index(node), q.backends[memdev], bs,
                                 _size(d.get("requested-size", "0"), f"meta.qemu_cmdline {dev_id} requested-size"),
                                 _get(info, "memaddr", int, f"steps[0].qmp {dev_id}.")))
        dev_ids.append(dev_id)
    if len(dev_ids) > 2:
        raise TraceError(f"meta.qemu_cmdline: {len(dev_ids)} virtio-mem devices; the harness records vmem0 and vmem1")
    node_memory = tuple(q.backends[m] for _, m in sorted(q.numa)) if q.numa else ()
    if node_memory and sum(node_memory) != q.boot:
        raise TraceError(f"meta.qemu_cmdline: the -numa nodes hold {format_size(sum(node_memory))}, -m says "
                         f"{format_size(q.boot)}")
    policy = {}
    for key, field_name, conv in (("memhp_default_state", "auto_online_blocks", str),
                                  ("memory_hotplug.online_policy", "online_policy", str),
                                  ("memory_hotplug.auto_movable_ratio", "auto_movable_ratio", int),
                                  ("memory_hotplug.auto_movable_numa_aware", "auto_movable_numa_aware", bool),
                                  ("virtio_mem.force_bbm", "force_bbm", bool),
                                  ("virtio_mem.unplug_online", "unplug_online", bool),
                                  ("virtio_mem.bbm_block_size", "bbm_block_size", int)):
        if key not in args:
            continue
        where = f"meta.kernel_cmdline {key}"
        raw = args[key]
        if conv is bool:
            policy[field_name] = _kstrtobool(raw, where)
        elif conv is int:
            try:
                policy[field_name] = int(raw, 0)
            except ValueError:
                raise TraceError(f"{where}: {raw!r} is not a number (module parameters take plain numbers; "
                                 "insmod refuses suffixes like 512M)") from None
        else:
            policy[field_name] = raw
    if policy.get("auto_online_blocks", "offline") not in AUTO_ONLINE_CHOICES:
        raise TraceError(f"meta.kernel_cmdline memhp_default_state: {policy['auto_online_blocks']!r} is not "
                         f"allowed; allowed: {', '.join(AUTO_ONLINE_CHOICES)}")
    if policy.get("online_policy", "contig-zones") not in ONLINE_POLICIES:
        raise TraceError(f"meta.kernel_cmdline memory_hotplug.online_policy: {policy['online_policy']!r} is not "
                         f"allowed; allowed: {', '.join(ONLINE_POLICIES)}")
    notes = []
    bbm = policy.get("bbm_block_size", 0)
    if bbm and (bbm & (bbm - 1)):
        notes.append(f"virtio_mem.bbm_block_size={bbm} is not a power of two: the driver ignores it")
        policy["bbm_block_size"] = 0
    if "memory_hotplug.memmap_on_memory" in args:
        notes.append("memory_hotplug.memmap_on_memory: virtio-mem in 6.1 does not use it (no effect)")
    probed = _probe_units(g0)
    units = {d.id: probed.get(d.addr, 0) for d in devs}
    holes = _boot_holes(steps[0], q.boot, mb_size)
    try:
        cfg = MachineConfig(
            boot_memory=q.boot, memory_block_size=mb_size, nodes=len(node_memory) or 1, node_memory=node_memory,
            below_4g=below_4g(q.machine, q.boot) if below_4g(q.machine, q.boot) < q.boot else 0,
            auto_online_blocks=policy.get("auto_online_blocks", "offline"),
            online_policy=policy.get("online_policy", "contig-zones"),
            auto_movable_ratio=policy.get("auto_movable_ratio", 301),
            auto_movable_numa_aware=policy.get("auto_movable_numa_aware", True),
            unplug_online=policy.get("unplug_online", True), force_bbm=policy.get("force_bbm", False),
            bbm_block_size=policy.get("bbm_block_size", 0), boot_holes=holes,
            transparent_hugepage=args.get("transparent_hugepage", "madvise") != "never",
            movable_node="movable_node" in args, background_kernel_allocs=2, devices=tuple(devs))
        cfg.validate()
    except ConfigError as e:
        raise TraceError(f"the traced VM cannot be modelled: {e}") from None
    workload = any(s["spec"].startswith(WORKLOAD_PREFIXES) for s in steps)
    t_ready = meta.get("boot_seconds_to_ready")
    return Plan(trace, str(meta.get("name") or "trace"), cfg, tuple(dev_ids), units, workload,
                mem_total0 - mem_free0, mem_total0, float(t_ready) if isinstance(t_ready, (int, float)) else 0.0,
                notes)


def _boot_holes(step0: dict, boot: int, mb_size: int) -> int | None:
    """Non-present boot pages from the zones' present pages after boot (None: use the default)."""
    zones = step0.get("guest", {}).get("zones")
    if not isinstance(zones, dict):
        return None
    try:
        present = sum(int(z["present_pages"]) for z in zones.values())
    except (KeyError, TypeError, ValueError):
        return None
    online_dev = 0
    for rec in (step0.get("guest", {}), step0.get("vmem1") or {}):
        for b in rec.get("device_memory_blocks") or []:
            if (b.get("sysfs") or {}).get("state") == "online":
                online_dev += mb_size // PAGE_SIZE
    holes = boot // PAGE_SIZE - (present - online_dev)
    return holes * PAGE_SIZE if 0 <= holes * PAGE_SIZE <= 64 * MiB else None


_SPEC_RE = {"size": re.compile(r"^\d+[KMGT]?(?:i?B)?$", re.I)}


def _spec_kind(spec: str, where: str) -> tuple[str, str]:
    """Classify one step of the harness's grammar: (kind, argument)."""
    s = spec.strip()
    for prefix in ("fill:", "slab:", "hog:", "sleep:", "vmem1:"):
        if s.startswith(prefix):
            arg = s[len(prefix):]
            if prefix == "slab:" and not arg.isdigit():
                raise TraceError(f"{where}: {spec!r}: slab:N takes a number of files")
            if prefix == "sleep:":
                try:
                    float(arg)
                except ValueError:
                    raise TraceError(f"{where}: {spec!r}: sleep:S takes seconds") from None
            elif prefix != "slab:":
                _size(arg, where)
            return prefix[:-1], arg
    if s in ("resend", "unfill", "unslab", "unhog", "snap", "reset"):
        return s, ""
    if _SPEC_RE["size"].match(s):
        return "set", s
    raise TraceError(f"{where}: {spec!r} is not a step of the harness; allowed: {STEP_GRAMMAR}")


def is_workload(trace: dict) -> bool:
    return any(s.get("spec", "").startswith(WORKLOAD_PREFIXES) for s in trace.get("steps", []))


# ----- the real side ----------------------------------------------------------------------------
def _real_ops(step: dict, dev_ids: tuple[str, ...]) -> list[Op]:
    ops = []
    for o in step.get("device", {}).get("ops", []) or []:
        if not isinstance(o, dict) or o.get("op") not in ("plug", "unplug", "unplug_all", "state"):
            continue
        dev = o.get("dev") or o.get("dev_guess") or dev_ids[0]
        if o["op"] == "unplug_all":
            ops.append(Op(dev, "unplug_all", 0, 0, o.get("resp", "?")))
        else:
            ops.append(Op(dev, o["op"], int(o.get("first_block", -1)), int(o.get("nb_blocks", 0)), o.get("resp", "?")))
    return ops


def _real_blocks(recs: list[dict]) -> dict[int, BlockView]:
    blocks = {}
    for rec in recs:
        for b in rec.get("device_memory_blocks") or []:
            sysfs = b.get("sysfs") or {}
            online = sysfs.get("state") == "online"
            blocks[int(b["id"])] = BlockView(bool(sysfs), online, sysfs.get("valid_zones", "") if online else "",
                                             b.get("device_plugged", ""))
    return blocks


def real_observed(step: dict, plan: Plan, prev: Observed | None) -> Observed:
    """What the real guest and device showed after ``step``."""
    dev_ids = plan.dev_ids
    second = step.get("vmem1") if isinstance(step.get("vmem1"), dict) else None
    plugged, usable, requested = {}, {}, {}
    qmp = step.get("qmp", {}).get("query_memory_devices") or {}
    if "size" in qmp:
        plugged[dev_ids[0]] = int(qmp["size"])
    requested[dev_ids[0]] = int(step["requested_size"])
    usable[dev_ids[0]] = step.get("device", {}).get("usable_region_size")
    if len(dev_ids) > 1:
        if second is not None:
            plugged[dev_ids[1]] = int(second["query_memory_devices"]["size"])
            requested[dev_ids[1]] = int(second.get("requested_size", 0))
            usable[dev_ids[1]] = second.get("usable_region_size")
        elif prev is not None:     # guest dead: the second device's record is missing
            requested[dev_ids[1]] = prev.requested.get(dev_ids[1], 0)
    ops = _real_ops(step, dev_ids)
    if step.get("guest_dead"):
        err = str(step.get("error", ""))
        refused = "QMP qom-set failed" in err
        if refused and prev is not None:
            requested = dict(prev.requested)       # QEMU refused the new size: nothing changed
            plugged = {**prev.plugged, **plugged}
        return Observed(ops, plugged, usable, requested, None, None, None, "refused" if refused else "guest-dead")
    g = step["guest"]
    mi = g.get("meminfo_kB", {})
    blocks = _real_blocks([g] + ([second] if second else []))
    if step.get("settle", {}).get("reason") == "qmp-error":
        outcome = "refused"
    else:
        outcome = "reached" if all(plugged.get(d) == requested.get(d) for d in plugged) else "stalled"
    return Observed(ops, plugged, usable, requested, int(mi["MemTotal"]) * KiB,
                    int(mi["MemFree"]) * KiB if "MemFree" in mi else None, blocks, outcome)


# ----- the model side ---------------------------------------------------------------------------
def build_machine(plan: Plan, seed: int = 0, placement: str = "seeded") -> Machine:
    """The traced VM, calibrated on its state after boot (MemTotal and MemFree of step 0)."""
    cfg = replace(plan.config, seed=seed, background_kernel_allocs=0 if placement == "trace" else 2)
    probe = Machine(replace(cfg, boot_kernel_used=0))
    probe.settle()
    # MemTotal after boot calibrates the kernel's reserved memory, MemFree what the kernel already uses
    reserved = cfg.kernel_reserved + probe.mem.mem_total - plan.boot_total
    used = plan.boot_used - (probe.mem.mem_total - probe.mem.mem_free)
    reserved = max(reserved, cfg.holes + (MiB if cfg.arch == "x86_64" else 0))
    try:
        cfg = replace(cfg, kernel_reserved=reserved, boot_kernel_used=max(0, used) // PAGE_SIZE * PAGE_SIZE)
        m = Machine(cfg)
    except ConfigError as e:
        raise TraceError(f"the traced VM cannot be modelled: {e}") from None
    m.settle()
    m.take_events()
    return m


def model_observed(m: Machine, events: list, plan: Plan, real_blocks: set[int], outcome: str | None) -> Observed:
    by_id = {d.id: d for d in m.devices}
    ops = []
    for e in events:
        if e.kind != Kind.REQUEST or e.text.startswith("buggy") or e.device not in by_id:
            continue
        dev = by_id[e.device]
        if e.request == "UNPLUG_ALL":
            ops.append(Op(dev.id, "unplug_all", 0, 0, e.response))
        else:
            ops.append(Op(dev.id, e.request.lower(), (e.addr - dev.addr) // dev.block_size,
                          e.size // dev.block_size, e.response))
    mem = m.mem
    blocks = {}
    for dev, drv in zip(m.devices, m.drivers):
        per_mb = mem.mb_size // dev.block_size
        for k in range(drv.n_mb):
            mb = drv.mb_off + k
            sysfs = int(mem.mb_phys[mb])
            start = (sysfs * mem.mb_size - dev.addr) // dev.block_size
            bits = dev.bitmap[start:start + per_mb] if per_mb else np.zeros(0, dtype=bool)
            if not (mem.mb_present[mb] or bits.any() or sysfs in real_blocks):
                continue
            online = bool(mem.mb_online[mb])
            zone = ZONE_NAMES[Zone(int(mem.mb_zone[mb]))] if online else ""
            blocks[sysfs] = BlockView(bool(mem.mb_present[mb]), online, zone, "".join("1" if b else "0" for b in bits))
    plugged = {d.id: d.plugged_size for d in m.devices}
    requested = {d.id: d.requested_size for d in m.devices}
    if outcome is None:
        outcome = "guest-dead" if m.guest.dead else (
            "reached" if all(plugged[d] == requested[d] for d in plugged) else "stalled")
    return Observed(ops, plugged, {d.id: d.usable_region_size for d in m.devices}, requested, mem.mem_total,
                    mem.mem_free, blocks, outcome)


def _drop_slab(m: Machine) -> None:
    """Free the slab storm, except one live object in about one in six of its pageblocks."""
    held = np.flatnonzero(m.mem.pages[Page.SLAB])
    keep = m.rng.choice(held, size=int(round(len(held) * SLUB_PARTIAL_FRACTION)), replace=False) if len(held) else held
    m.mem.free(Page.SLAB, None, m.rng)
    if len(keep):
        m.mem.add_pages(Page.SLAB, np.sort(keep), np.ones(len(keep), dtype=np.int64))
    m.emit(Kind.FREE, f"slab freed (rm -rf, drop_caches); {len(keep)} pageblocks keep a partly used slab page "
           "(SLUB partial slabs; modelled: one in six)")


class _Workload:
    """The harness's guest commands, applied to the model (state that the commands carry over).

    Besides their data, tmpfs files need xarray nodes (576 B per 64 pages, slab) and the hog's
    memory needs page tables (one 4 KiB page per 2 MiB): unmovable kernel memory, freed with them.
    """

    def __init__(self, plan: Plan):
        # tmpfs at /fill was mounted at boot: nr_inodes = half the pages of MemTotal then
        self.inode_limit = plan.boot_total // PAGE_SIZE // 2
        self.inodes = 1
        self.extra: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"fill": [], "hog": []}

    def _kernel_extra(self, m: Machine, what: str, size: int) -> None:
        before = m.mem.pages[Page.KERNEL].astype(np.int64)
        m.guest.allocate(size, Page.KERNEL, placement="packed")
        diff = m.mem.pages[Page.KERNEL].astype(np.int64) - before
        idx = np.flatnonzero(diff > 0)
        self.extra[what].append((idx, diff[idx]))

    def _free_extra(self, m: Machine, what: str) -> None:
        for idx, cnt in self.extra[what]:
            keep = m.mem.pages[Page.KERNEL, idx].astype(np.int64) >= cnt
            m.mem.add_pages(Page.KERNEL, idx[keep], -cnt[keep])
        self.extra[what] = []

    def apply(self, m: Machine, kind: str, arg: str) -> None:
        if m.guest.dead:
            m.emit(Kind.NOTE, f"{kind}: the guest is dead; nothing runs")
            return
        g = m.guest
        if kind == "fill":
            got = g.allocate(parse_size(arg), Page.CACHE, placement="packed")
            if not m.guest.dead:
                self._kernel_extra(m, "fill", got // 64 * 576 // PAGE_SIZE * PAGE_SIZE)
        elif kind == "unfill":
            n = m.mem.free(Page.CACHE, None, m.rng)
            self._free_extra(m, "fill")
            m.emit(Kind.FREE, f"tmpfs files deleted: {format_size(n * PAGE_SIZE)} of page cache freed")
        elif kind == "hog":
            got = g.allocate(parse_size(arg), Page.ANON, placement="packed")
            if not m.guest.dead and m.mem.used_total[Page.ANON]:
                self._kernel_extra(m, "hog", got * PAGE_SIZE // 512 // PAGE_SIZE * PAGE_SIZE)
        elif kind == "unhog":
            n = m.mem.free(Page.ANON, None, m.rng)
            self._free_extra(m, "hog")
            m.emit(Kind.FREE, f"the hog was killed: {format_size(n * PAGE_SIZE)} of anonymous memory freed")
        elif kind == "slab":
            files = min(int(arg), max(0, self.inode_limit - self.inodes))
            self.inodes += files + int(arg) // 1000
            m.emit(Kind.NOTE, f"slab:{arg}: tmpfs allows {self.inode_limit} inodes (half the boot RAM pages), so "
                   f"{files} empty files are created, about {format_size(files * SLAB_BYTES_PER_FILE)} of "
                   "unreclaimable slab (modelled: 1 KiB per file)")
            g.allocate(files * SLAB_BYTES_PER_FILE // PAGE_SIZE * PAGE_SIZE, Page.SLAB, placement="packed")
        elif kind == "unslab":
            self.inodes = 1
            _drop_slab(m)


def apply_step(m: Machine, plan: Plan, i: int, work: _Workload) -> str | None:
    """Apply step ``i`` to the model; returns "refused" when QEMU's checks refuse it."""
    spec = plan.trace["steps"][i]["spec"]
    kind, arg = _spec_kind(spec, f"steps[{i}].spec")
    if kind in ("set", "vmem1"):
        idx = 0 if kind == "set" else 1
        if idx >= len(m.devices):
            raise TraceError(f"steps[{i}].spec: {spec!r} drives vmem1 but the VM has no second device")
        try:
            m.devices[idx].check_requested_size(parse_size(arg))
        except DeviceConfigError as e:
            m.emit(Kind.HOST, f"host: qom-set {m.devices[idx].id} requested-size {arg} refused by QEMU: {e}")
            return "refused"
        m.set_requested_size(idx, parse_size(arg))
    elif kind == "resend":
        m.set_requested_size(0, m.devices[0].requested_size)
    elif kind == "sleep":
        m.advance(float(arg))
    elif kind == "reset":
        m.reboot(reset_devices=True)
    elif kind != "snap":
        work.apply(m, kind, arg)
    m.settle()
    return None


# ----- trace placement (diagnostic) -------------------------------------------------------------
def stuck_pageblocks(trace: dict) -> list[tuple[int, int]]:
    """(memory block, pageblock) pairs the real guest kept plugged while asked to unplug them:
    where the real kernel's own unmovable allocations sat (only traces without a guest workload)."""
    if is_workload(trace):
        return []
    out: set[tuple[int, int]] = set()
    for step in trace["steps"]:
        if step.get("settle", {}).get("reason") != "stalled":
            continue
        recs = [step.get("guest", {})] + ([step["vmem1"]] if isinstance(step.get("vmem1"), dict) else [])
        for rec in recs:
            for b in rec.get("device_memory_blocks") or []:
                sysfs = b.get("sysfs") or {}
                if sysfs.get("state") == "online" and sysfs.get("valid_zones") in ("Normal", "DMA32"):
                    plugged = b.get("device_plugged", "")
                    per = max(1, len(plugged) // PAGES_PER_CHUNK) if plugged else 1
                    out.update((int(b["id"]), k // per) for k, c in enumerate(plugged) if c == "1")
    return sorted(out)


def _pin_kernel_pages(m: Machine, stuck: list[tuple[int, int]]) -> None:
    """Put the real kernel's unmovable pages where the trace shows them (once each is online)."""
    mem = m.mem
    for sysfs, pb in stuck:
        mb = mem.phys_to_mb.get(sysfs)
        if mb is None or pb >= mem.chunks_per_mb:
            continue
        c = mem.mb_chunks(mb).start + pb
        if mem.chunk_online[c] and mem.pages[Page.KERNEL, c] == 0 and int(mem.mb_zone[mb]) != Zone.MOVABLE:
            mem.alloc(1, Page.KERNEL, m.rng, at=slice(c, c + 1))


# ----- comparing ------------------------------------------------------------------------------
def _tolerance(real: int) -> int:
    return max(WORKLOAD_TOLERANCE[0], int(real * WORKLOAD_TOLERANCE[1]))


def _first_stall(reals: list[Observed], plan: Plan, unit_of: dict[str, int]) -> int:
    """The first step at which the real guest kept at least one whole unit more than requested
    (an unplug that could not finish), or died. A gap smaller than one unit is deterministic."""
    for i, r in enumerate(reals):
        if i == 0:
            continue
        if r.outcome == "guest-dead":
            return i
        if r.outcome == "stalled" and any(r.plugged.get(d, 0) - r.requested.get(d, 0) >= unit_of.get(d, 1)
                                          for d in r.plugged):
            return i
    return len(reals)


def compare(i: int, spec: str, real: Observed, model: Observed, workload: bool, strict_upto: int,
            with_dev: bool) -> StepDiff:
    d = StepDiff(i, spec, real, model)
    devs = sorted(real.plugged)
    if workload:
        d.checks["plugged"] = all(abs(real.plugged[k] - model.plugged.get(k, 0)) <= _tolerance(real.plugged[k])
                                  for k in devs)
    else:
        d.checks["plugged"] = all(real.plugged[k] == model.plugged.get(k) for k in devs)
        if real.mem_total is not None:
            d.checks["MemTotal"] = real.mem_total == model.mem_total
    d.checks["outcome"] = real.outcome == model.outcome
    if not workload and i < strict_upto:
        # each driver's requests in order; how two drivers' work items interleave is the scheduler's
        per_dev = {k: ([o for o in real.ops if o.dev == k], [o for o in model.ops if o.dev == k])
                   for k in sorted({o.dev for o in real.ops + model.ops})}
        d.checks["requests"] = all(a == b for a, b in per_dev.values())
        for a, b in per_dev.values():
            if a == b:
                continue
            k = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            d.notes.append(f"first different request: #{k}, real {_at(a, k, with_dev)}, "
                           f"model {_at(b, k, with_dev)} ({len(a)} real, {len(b)} model)")
        if real.blocks is not None:
            wanted = {k: v for k, v in (model.blocks or {}).items() if k in real.blocks or v.present or "1" in v.plugged}
            d.checks["blocks"] = real.blocks == wanted
            if not d.checks["blocks"]:
                bad = [k for k in sorted(set(real.blocks) | set(wanted)) if real.blocks.get(k) != wanted.get(k)]
                d.notes.append("memory blocks differ: " + "; ".join(
                    f"memory{k} real {_label(real.blocks.get(k))}, model {_label(wanted.get(k))}" for k in bad[:3])
                    + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""))
    elif real.ops != model.ops:
        why = ("where the workload's pages sit is modelled, not traced" if workload else
               "after the real guest stalled, which subblocks stay depends on where the kernel put its own pages")
        d.notes.append(f"requests not scored ({len(real.ops)} real, {len(model.ops)} model): {why}")
    if workload and real.mem_free is not None and model.mem_free is not None:
        d.notes.append(f"MemFree real {real.mem_free // KiB} kB, model {model.mem_free // KiB} kB")
    return d


def _label(b: BlockView | None) -> str:
    return b.label() if b else "-"


def _at(ops: list[Op], k: int, with_dev: bool) -> str:
    return ops[k].text(with_dev) if k < len(ops) else "(none)"


def _setup_text(plan: Plan, m: Machine) -> str:
    cfg = plan.config
    parts = [f"boot {format_size(cfg.boot_memory)}" + (f" on {cfg.nodes} nodes" if cfg.nodes > 1 else "")]
    for dev, drv in zip(m.devices, m.drivers):
        parts.append(f"{dev.id} {format_size(dev.region_size)} @{dev.addr:#x} block {format_size(dev.block_size)} "
                     f"{drv.mode} {format_size(drv.unit_size)}")
    parts.append(cfg.auto_online_blocks + ("" if cfg.online_policy == "contig-zones" else
                                           f" auto-movable {cfg.auto_movable_ratio}%"))
    return ", ".join(parts)


def replay(trace: dict, placement: str = "seeded", seed: int = 0, name: str = "", path: str = "") -> Report:
    """Replay one trace and compare step by step. Raises TraceError (one line) if it cannot run."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement: {placement!r}; allowed: {', '.join(PLACEMENTS)}")
    plan = parse(trace)
    m = build_machine(plan, seed, placement)
    for dev_id, drv in zip(plan.dev_ids, m.drivers):
        real_unit = plan.units.get(dev_id)
        if real_unit and real_unit != drv.unit_size:
            plan.notes.append(f"{dev_id}: the real driver uses {format_size(real_unit)} units, the model "
                              f"{format_size(drv.unit_size)}")
    unit_of = {d: (plan.units.get(d) or drv.unit_size) for d, drv in zip(plan.dev_ids, m.drivers)}
    steps = plan.trace["steps"]
    reals: list[Observed] = []
    for step in steps:
        reals.append(real_observed(step, plan, reals[-1] if reals else None))
    strict_upto = _first_stall(reals, plan, unit_of)
    stuck = stuck_pageblocks(plan.trace) if placement == "trace" else []
    work = _Workload(plan)
    with_dev = len(plan.dev_ids) > 1
    report = Report(name or plan.name, path, plan.workload, [], str(plan.meta.get("kernel_package", "?")),
                    str(plan.meta.get("qemu_version", "?")), _setup_text(plan, m), placement,
                    devices=plan.dev_ids)
    for i, step in enumerate(steps):
        if i == 0:
            continue
        t = step.get("t_start")
        if isinstance(t, (int, float)) and t - plan.t_ready > m.now:
            m.advance(t - plan.t_ready - m.now)
        outcome = apply_step(m, plan, i, work)
        _pin_kernel_pages(m, stuck)
        events = m.take_events()
        real = reals[i]
        model = model_observed(m, events, plan, set(real.blocks or {}), outcome)
        report.steps.append(compare(i, step["spec"], real, model, plan.workload, strict_upto, with_dev))
    report.notes = plan.notes
    return report


def replay_path(path: str | Path, placement: str = "seeded", seed: int = 0) -> Report:
    """Load and replay one file; any failure becomes a Report with a one-line ``error``."""
    name = Path(path).stem
    try:
        return replay(load(path), placement, seed, name=name, path=str(path))
    except TraceError as e:
        return Report(name, str(path), error=str(e))
    except Exception as e:  # a model bug must not hide the other traces' results
        return Report(name, str(path), error=f"internal error while replaying ({type(e).__name__}: {e}); "
                      "this is a bug in vmemlab")


def trace_files(paths: list[str]) -> list[Path]:
    """Files named on the command line; a folder stands for every *.json in it (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    return out


# ----- printing ---------------------------------------------------------------------------------
def _ops_text(ops: list[Op], with_dev: bool, limit: int = 8) -> str:
    texts = [o.text(with_dev) for o in ops]
    if len(texts) <= limit:
        return " ".join(texts) or "-"
    return " ".join(texts[:limit // 2]) + f" ... ({len(texts) - limit} more) ... " + " ".join(texts[-limit // 2:])


def _sizes(d: dict[str, int], with_dev: bool) -> str:
    if not with_dev:
        return format_size(sum(d.values()))
    return " ".join(f"{k}={format_size(v)}" for k, v in sorted(d.items()))


def _kb(v: int | None) -> str:
    return "?" if v is None else str(v // KiB)


def format_report(r: Report, verbose: bool = False) -> str:
    if r.error:
        return f"== {r.name}: cannot replay: {r.error}\nscore 0.000 (the trace did not run)"
    with_dev = len(r.devices) > 1
    kind = ("workload trace: plugged within max(16 MiB, 10 %) and outcome" if r.workload else
            "no workload: plugged, MemTotal, outcome exact; requests and memory blocks until the first stall")
    lines = [f"== {r.name}: {kind}", f"   real: {r.kernel}, {r.qemu}", f"   setup: {r.setup}"]
    for n in r.notes:
        lines.append(f"   note: {n}")
    if r.placement == "trace":
        lines.append("   DIAGNOSTIC placement=trace: the kernel's unmovable pages are pinned where the trace shows "
                     "them stuck (the answer is read from the trace)")
    for s in r.steps:
        mark = "ok  " if s.ok else "DIFF"
        line = (f"{mark} step {s.index:<2} {s.spec:<12} plugged real {_sizes(s.real.plugged, with_dev)} model "
                f"{_sizes(s.model.plugged, with_dev)}  MemTotal {_kb(s.real.mem_total)}/{_kb(s.model.mem_total)} kB")
        if r.workload:
            line += f"  MemFree {_kb(s.real.mem_free)}/{_kb(s.model.mem_free)} kB"
        lines.append(line + f"  {s.real.outcome}/{s.model.outcome}")
        if verbose or not s.ok:
            lines.append(f"       real  requests: {_ops_text(s.real.ops, with_dev)}")
            lines.append(f"       model requests: {_ops_text(s.model.ops, with_dev)}")
            for k, v in s.checks.items():
                if not v:
                    lines.append(f"       mismatch: {k}")
        for n in s.notes:
            lines.append(f"       note: {n}")
    lines.append(f"score {r.score:.3f} ({r.passed} of {r.total} checks{', exact match' if r.exact else ''})")
    return "\n".join(lines)


def format_summary(reports: list[Report]) -> str:
    ran = [r for r in reports if not r.error]
    width = max((len(r.name) for r in reports), default=10)
    lines = [f"== summary: {len(reports)} traces, {len(ran)} replayed, {len(reports) - len(ran)} could not run"]
    for r in reports:
        tail = f"cannot replay: {r.error}" if r.error else f"({r.passed}/{r.total} checks)"
        lines.append(f"   {r.name:<{width}}  {r.score:.3f}  {tail}")
    return "\n".join(lines)


def report_json(r: Report) -> dict:
    with_dev = len(r.devices) > 1
    return {"name": r.name, "path": r.path, "error": r.error or None, "workload": r.workload,
            "placement": r.placement, "score": r.score, "checks_passed": r.passed, "checks_total": r.total,
            "exact": r.exact, "setup": r.setup, "notes": r.notes,
            "steps": [{"step": s.index, "spec": s.spec, "ok": s.ok, "checks": s.checks, "notes": s.notes,
                       "real": s.real.to_dict(with_dev), "model": s.model.to_dict(with_dev)} for s in r.steps]}
