"""Reading a trace of the real Linux 6.1 driver and QEMU 7.2 device (../shared/oracle/trace.py).

``load`` and ``parse`` check the trace's schema (a ``TraceError`` is one line naming the field)
and turn its boot state into a ``MachineConfig``; ``real_observed`` says what the real guest and
device showed after each step, in the same terms as the model (``Observed``).
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, DeviceConfig, MachineConfig
from .onlining import AUTO_ONLINE_CHOICES, ONLINE_POLICIES
from .units import GiB, KiB, MiB, PAGE_SIZE, SizeError, format_size, parse_size

STEP_GRAMMAR = ("SIZE, resend, fill:SIZE, unfill, slab:N, unslab, hog:SIZE, unhog, sleep:SECONDS, snap, reset, "
                "vmem1:SIZE")
WORKLOAD_PREFIXES = ("fill:", "slab:", "hog:")


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
        spec_kind(spec, f"steps[{i}].spec")
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
    node_memory = tuple(q.backends[m] for _, m in sorted(q.numa)) if q.numa else (q.boot,)
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


_SIZE_SPEC = re.compile(r"^\d+[KMGT]?(?:i?B)?$", re.I)


def spec_kind(spec: str, where: str) -> tuple[str, str]:
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
    if _SIZE_SPEC.match(s):
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


