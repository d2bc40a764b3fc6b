"""Replay traces of the real Linux 6.1 driver and QEMU 7.2 device, and compare step by step.

A trace (recorded by ../shared/oracle/trace.py) gives, per step, the device-side requests from
QEMU's trace events, the plugged and usable sizes, MemTotal and every memory block's sysfs
state. ``replay`` builds the same VM from the trace's own metadata, applies the same steps and
diffs the model against the trace: where they disagree, the trace is right.

One input is taken from the trace rather than modelled: *where the real kernel put its own
long-lived allocations* in the first ZONE_NORMAL block. That placement is non-deterministic in
Linux; the replay pins one unmovable page in each pageblock the real guest could never unplug
(``placement="trace"``), or lets the model's seeded RNG choose (``placement="seeded"``).
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DeviceConfig, MachineConfig
from .events import Kind
from .machine import Machine
from .memory import Page, Zone
from .units import KiB, format_size, parse_size

WORKLOAD_PREFIXES = ("fill:", "unfill", "slab:", "unslab", "hog:", "unhog")
# After `rm -rf` + drop_caches, SLUB keeps slab pages that still hold a live object from another
# cache (partial slabs). slab-normal shows 10 of 59 pinned pageblocks left: about one in six.
SLUB_PARTIAL_FRACTION = 1 / 6


@dataclass(frozen=True)
class Op:
    """One device request as QEMU traced it: op, first device block, block count, response."""

    op: str
    first: int
    nb: int
    resp: str

    def __str__(self) -> str:
        if self.op == "unplug_all":
            return "unplug_all" + ("" if self.resp == "ACK" else f"={self.resp}")
        return f"{self.op}[{self.first}+{self.nb}]" + ("" if self.resp == "ACK" else f"={self.resp}")


@dataclass
class BlockView:
    present: bool
    online: bool
    zone: str
    plugged: str          # one '0'/'1' per device block of the memory block

    def label(self) -> str:
        state = ("online " + self.zone) if self.online else "offline" if self.present else "absent"
        return f"{state}, {self.plugged.count('1')} plugged"


@dataclass
class Observed:
    """What one side (the real system or the model) shows after a step."""

    ops: list[Op]
    plugged: int
    usable: int
    mem_total: int
    blocks: dict[int, BlockView]
    outcome: str          # reached / stalled / guest-dead


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
    workload: bool
    steps: list[StepDiff]
    kernel: str
    qemu: str

    @property
    def score(self) -> float:
        checks = [v for s in self.steps for v in s.checks.values()]
        return sum(checks) / len(checks) if checks else 1.0

    @property
    def exact(self) -> bool:
        return all(s.ok for s in self.steps)


# ----- reading a trace --------------------------------------------------------------------------
def load(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _qemu_opt(cmdline: list[str], flag: str, prefix: str) -> dict[str, str]:
    for i, arg in enumerate(cmdline[:-1]):
        if arg == flag and cmdline[i + 1].startswith(prefix):
            return dict(kv.split("=", 1) for kv in cmdline[i + 1].split(",")[1:] if "=" in kv)
    return {}


def machine_config(trace: dict, seed: int = 0) -> MachineConfig:
    """The traced VM: boot memory, region, block sizes and boot parameters from the trace itself."""
    meta = trace["meta"]
    cmd = meta["qemu_cmdline"]
    boot = parse_size(cmd[cmd.index("-m") + 1].split(",")[0])
    backend = _qemu_opt(cmd, "-object", "memory-backend-ram")
    device = _qemu_opt(cmd, "-device", "virtio-mem-pci")
    kernel_args = dict(a.split("=", 1) for a in shlex.split(meta["kernel_cmdline"]) if "=" in a)
    first = trace["steps"][0]["guest"]
    mb_size = int(first["block_size_bytes"])
    mem_total = int(first["meminfo_kB"]["MemTotal"]) * KiB
    devices = [DeviceConfig(device.get("id", "vmem0"), 0, parse_size(backend["size"]),
                            parse_size(device.get("block-size", "2M")),
                            parse_size(device.get("requested-size", "0")))]
    return MachineConfig(
        boot_memory=boot, memory_block_size=mb_size,
        auto_online_blocks=kernel_args.get("memhp_default_state", "offline"),
        online_policy=kernel_args.get("memory_hotplug.online_policy", "contig-zones"),
        auto_movable_ratio=int(kernel_args.get("memory_hotplug.auto_movable_ratio", 301)),
        force_bbm=kernel_args.get("virtio_mem.force_bbm", "0") in ("1", "Y", "y"),
        kernel_reserved=boot - mem_total - boot // 64,
        background_kernel_allocs=0, seed=seed, devices=tuple(devices))


def real_observed(step: dict, base: int, block_size: int) -> Observed:
    ops = []
    for o in step.get("device", {}).get("ops", []):
        if o.get("event") in ("plug_request", "unplug_request"):
            ops.append(Op(o["op"], int(o["first_block"]), int(o["nb_blocks"]), o["resp"]))
        elif o.get("event") == "unplug_all_request":
            ops.append(Op("unplug_all", 0, 0, o.get("resp", "ACK")))
    blocks = {}
    for b in step["guest"].get("device_memory_blocks", []):
        sysfs = b.get("sysfs") or {}
        present = bool(sysfs)
        online = sysfs.get("state") == "online"
        blocks[int(b["id"])] = BlockView(present, online, sysfs.get("valid_zones", "") if online else "",
                                         b.get("device_plugged", ""))
    qmp = step["qmp"]["query_memory_devices"]
    reason = step["settle"]["reason"]
    dead = bool(step.get("guest_dead"))
    outcome = "guest-dead" if dead else ("reached" if qmp["size"] == step["requested_size"] else "stalled")
    if reason not in ("reached", "stalled", "timeout"):
        outcome = "-"
    return Observed(ops, int(qmp["size"]), int(step["device"]["usable_region_size"]),
                    int(step["guest"]["meminfo_kB"]["MemTotal"]) * KiB, blocks, outcome)


# ----- the model side ---------------------------------------------------------------------------
def model_observed(m: Machine, events: list, requested: int, real_blocks: set[int], settled: bool) -> Observed:
    dev = m.devices[0]
    ops = []
    for e in events:
        if e.kind != Kind.REQUEST or e.text.startswith("buggy"):
            continue
        if e.request == "UNPLUG_ALL":
            ops.append(Op("unplug_all", 0, 0, e.response))
        else:
            ops.append(Op(e.request.lower(), (e.addr - dev.addr) // dev.block_size, e.size // dev.block_size,
                          e.response))
    mem = m.mem
    drv = m.drivers[0]
    blocks = {}
    per_mb = mem.mb_size // dev.block_size
    for k in range(drv.n_mb):
        mb = drv.mb_off + k
        sysfs = int(mem.mb_phys[mb])
        bits = dev.bitmap[k * per_mb:(k + 1) * per_mb]
        if not (mem.mb_present[mb] or bits.any() or sysfs in real_blocks):
            continue
        online = bool(mem.mb_online[mb])
        zone = {Zone.NORMAL: "Normal", Zone.MOVABLE: "Movable", Zone.DMA32: "DMA32"}.get(Zone(int(mem.mb_zone[mb])), "")
        blocks[sysfs] = BlockView(bool(mem.mb_present[mb]), online, zone if online else "",
                                  "".join("1" if b else "0" for b in bits))
    outcome = "guest-dead" if m.guest.dead else ("reached" if dev.plugged_size == requested else "stalled")
    if not settled:
        outcome = "-"
    return Observed(ops, dev.plugged_size, dev.usable_region_size, mem.mem_total, blocks, outcome)


def stuck_pageblocks(trace: dict) -> list[tuple[int, int]]:
    """(memory block, pageblock) pairs the real guest kept plugged while asked to unplug them:
    where the real kernel's own unmovable allocations sat (only without a guest workload)."""
    if is_workload(trace):
        return []
    out: set[tuple[int, int]] = set()
    for step in trace["steps"]:
        if step["settle"]["reason"] != "stalled":
            continue
        for b in step["guest"].get("device_memory_blocks", []):
            if (b.get("sysfs") or {}).get("state") == "online" and (b.get("sysfs") or {}).get("valid_zones") == "Normal":
                out.update((int(b["id"]), i) for i, c in enumerate(b.get("device_plugged", "")) if c == "1")
    return sorted(out)


def is_workload(trace: dict) -> bool:
    return any(s["spec"].startswith(WORKLOAD_PREFIXES) for s in trace["steps"])


def _pin_kernel_pages(m: Machine, stuck: list[tuple[int, int]]) -> None:
    """Put the real kernel's unmovable pages where the trace shows them (once each is online)."""
    mem = m.mem
    for sysfs, pb in stuck:
        mb = mem.phys_to_mb.get(sysfs)
        if mb is None:
            continue
        c = mem.mb_chunks(mb).start + pb
        if mem.chunk_online[c] and mem.pages[Page.KERNEL, c] == 0 and int(mem.mb_zone[mb]) == Zone.NORMAL:
            mem.alloc(1, Page.KERNEL, m.rng, at=slice(c, c + 1))


def _drop_slab(m: Machine) -> None:
    """Free the slab storm, except one live object in about one in six of its pageblocks."""
    held = np.flatnonzero(m.mem.pages[Page.SLAB])
    keep = m.rng.choice(held, size=int(round(len(held) * SLUB_PARTIAL_FRACTION)), replace=False)
    m.mem.free(Page.SLAB, None, m.rng)
    if len(keep):
        m.mem.add_pages(Page.SLAB, np.sort(keep), np.ones(len(keep), dtype=np.int64))
    m.emit(Kind.FREE, f"slab freed; {len(keep)} pageblocks keep a partly used slab page (SLUB partial slabs)")


def _delta_kib(trace: dict, i: int, key: str) -> int:
    now = trace["steps"][i]["guest"]["meminfo_kB"].get(key, 0)
    before = trace["steps"][i - 1]["guest"]["meminfo_kB"].get(key, 0)
    return max(0, int(now) - int(before))


# guest actions of the trace harness -> the kind of pages they allocate or free
ALLOCS = {"fill:": Page.CACHE, "slab:": Page.SLAB, "hog:": Page.ANON}
FREES = {"unfill": Page.CACHE, "unhog": Page.ANON}


def apply_spec(m: Machine, trace: dict, i: int, requested: int) -> tuple[int, bool]:
    """Apply step ``i``'s spec to the model; returns (requested size, whether it settles)."""
    spec = trace["steps"][i]["spec"]
    if spec == "snap":
        return requested, False
    if spec == "unslab":
        _drop_slab(m)
        return requested, False
    if spec in FREES:
        m.mem.free(FREES[spec], None, m.rng)
        return requested, False
    for prefix, kind in ALLOCS.items():
        if spec.startswith(prefix):
            # tmpfs files of slab:N are sized by the trace's own SUnreclaim growth
            size = _delta_kib(trace, i, "SUnreclaim") * KiB if kind == Page.SLAB else parse_size(spec[len(prefix):])
            m.guest.allocate(size, kind, placement="packed")
            return requested, False
    if spec == "resend":
        m.set_requested_size(0, requested)
    elif spec.startswith("sleep:"):
        m.advance(float(spec[6:]))
    elif spec == "reset":
        m.reboot(reset_devices=True)
    else:
        requested = parse_size(spec)
        m.set_requested_size(0, requested)
    m.settle()
    return requested, True


def replay(trace: dict, placement: str = "trace", seed: int = 0) -> Report:
    cfg = machine_config(trace, seed)
    if placement == "seeded":
        from dataclasses import replace
        cfg = replace(cfg, background_kernel_allocs=MachineConfig().background_kernel_allocs)
    m = Machine(cfg)
    m.take_events()
    stuck = stuck_pageblocks(trace) if placement == "trace" else []
    dev = m.devices[0]
    workload = is_workload(trace)
    requested = dev.requested_size
    diffs = []
    for i, step in enumerate(trace["steps"]):
        requested, settles = apply_spec(m, trace, i, requested) if i else (requested, False)
        _pin_kernel_pages(m, stuck)
        events = m.take_events()
        real = real_observed(step, dev.addr, dev.block_size)
        model = model_observed(m, events, requested, set(real.blocks), settles)
        diffs.append(compare(i, step["spec"], real, model, workload, m.mem.mb_size))
    meta = trace["meta"]
    return Report(meta.get("name", "trace"), workload, diffs, meta.get("kernel_package", "?"),
                  meta.get("qemu_version", "?"))


def compare(i: int, spec: str, real: Observed, model: Observed, workload: bool, mb_size: int) -> StepDiff:
    d = StepDiff(i, spec, real, model)
    if workload:
        d.checks["outcome"] = real.outcome == model.outcome
        d.checks["plugged within one memory block"] = abs(real.plugged - model.plugged) <= mb_size
        if real.ops != model.ops:
            d.notes.append(f"requests differ ({len(real.ops)} real, {len(model.ops)} model): where the "
                           "workload's pages sit is modelled, not traced")
    else:
        d.checks["requests"] = real.ops == model.ops
        d.checks["blocks"] = {k: (v.present, v.online, v.zone, v.plugged) for k, v in real.blocks.items()} == \
            {k: (v.present, v.online, v.zone, v.plugged) for k, v in model.blocks.items() if k in real.blocks or v.present
             or "1" in v.plugged}
    d.checks["plugged_size"] = real.plugged == model.plugged or workload
    d.checks["usable_region_size"] = real.usable == model.usable
    d.checks["MemTotal"] = real.mem_total == model.mem_total or workload
    if not d.checks["requests" if "requests" in d.checks else "outcome"]:
        first = next((k for k, (a, b) in enumerate(zip(real.ops, model.ops)) if a != b), min(len(real.ops), len(model.ops)))
        d.notes.append(f"first difference at request {first}: real {_at(real.ops, first)}, model {_at(model.ops, first)}")
    return d


def _at(ops: list[Op], k: int) -> str:
    return str(ops[k]) if k < len(ops) else "(none)"


# ----- printing ---------------------------------------------------------------------------------
def _ops_text(ops: list[Op], limit: int = 8) -> str:
    if len(ops) <= limit:
        return " ".join(map(str, ops)) or "-"
    return " ".join(map(str, ops[:limit // 2])) + f" ... ({len(ops) - limit} more) ... " + \
        " ".join(map(str, ops[-limit // 2:]))


def format_report(r: Report, verbose: bool = False) -> str:
    lines = [f"== {r.name}: {'workload trace (outcome-level comparison)' if r.workload else 'exact comparison'}",
             f"   real: {r.kernel}, {r.qemu}"]
    for s in r.steps:
        mark = "ok  " if s.ok else "DIFF"
        lines.append(f"{mark} step {s.index} {s.spec:<12} plugged real {format_size(s.real.plugged):>6} model "
                     f"{format_size(s.model.plugged):>6}  MemTotal real {s.real.mem_total // KiB} model "
                     f"{s.model.mem_total // KiB} kB  outcome {s.real.outcome}/{s.model.outcome}")
        if verbose or not s.ok:
            lines.append(f"       real  ops: {_ops_text(s.real.ops)}")
            lines.append(f"       model ops: {_ops_text(s.model.ops)}")
            for k, v in s.checks.items():
                if not v:
                    lines.append(f"       mismatch: {k}")
            for sid in sorted(set(s.real.blocks) | set(s.model.blocks)):
                a, b = s.real.blocks.get(sid), s.model.blocks.get(sid)
                if a is None or b is None or a.plugged != b.plugged or a.online != b.online or a.zone != b.zone:
                    lines.append(f"       memory{sid}: real {a.label() if a else '-'}; model {b.label() if b else '-'}")
        for n in s.notes:
            lines.append(f"       note: {n}")
    lines.append(f"score {r.score:.3f} ({'exact match' if r.exact else 'differences above'})")
    return "\n".join(lines)


def report_json(r: Report) -> dict:
    return {"name": r.name, "workload": r.workload, "score": r.score, "exact": r.exact,
            "steps": [{"step": s.index, "spec": s.spec, "ok": s.ok, "checks": s.checks, "notes": s.notes,
                       "real": {"ops": list(map(str, s.real.ops)), "plugged": s.real.plugged,
                                "usable": s.real.usable, "MemTotal": s.real.mem_total, "outcome": s.real.outcome},
                       "model": {"ops": list(map(str, s.model.ops)), "plugged": s.model.plugged,
                                 "usable": s.model.usable, "MemTotal": s.model.mem_total,
                                 "outcome": s.model.outcome}} for s in r.steps]}
