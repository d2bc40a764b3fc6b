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

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .config import ConfigError
from .device import DeviceConfigError
from .events import Kind
from .machine import Machine
from .memory import CHUNK_SIZE, ZONE_NAMES, Page, Zone
from .oracle_trace import (BlockView, Observed, Op, Plan, TraceError, is_workload, load, parse,  # noqa: F401
                           real_observed, spec_kind)
from .units import KiB, MiB, PAGE_SIZE, format_size, parse_size

PLACEMENTS = ("seeded", "trace")
# After `rm -rf` + drop_caches, SLUB keeps slab pages that still hold a live object from another
# cache (partial slabs). slab-normal shows 8 of about 58 slab pageblocks left: about one in six.
SLUB_PARTIAL_FRACTION = 1 / 6
# Slab memory per empty tmpfs file (shmem inode, dentry, LSM blob): slab-normal grew by
# 117 MiB of slab for the 114k files its tmpfs inode limit allowed.
SLAB_BYTES_PER_FILE = 1 * KiB
WORKLOAD_TOLERANCE = (16 * MiB, 0.10)


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


def model_observed(m: Machine, events: list, real_blocks: set[int], outcome: str | None) -> Observed:
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

    Besides their data, tmpfs files need xarray nodes (576 B per 64 pages, slab): unmovable kernel
    memory, freed with them. (The hog's page tables are the model's own: ``Guest.allocate``.)
    """

    def __init__(self, plan: Plan):
        # tmpfs at /fill was mounted at boot: nr_inodes = half the pages of MemTotal then
        self.inode_limit = plan.boot_total // PAGE_SIZE // 2
        self.inodes = 1
        self.extra: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"fill": []}

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
            g.allocate(parse_size(arg), Page.ANON, placement="packed")
        elif kind == "unhog":
            n = m.mem.free(Page.ANON, None, m.rng)
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
    kind, arg = spec_kind(spec, f"steps[{i}].spec")
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
        chunks_per_mb = int(step.get("guest", {}).get("block_size_bytes") or 128 * MiB) // CHUNK_SIZE
        for rec in recs:
            for b in rec.get("device_memory_blocks") or []:
                sysfs = b.get("sysfs") or {}
                if sysfs.get("state") == "online" and sysfs.get("valid_zones") in ("Normal", "DMA32"):
                    plugged = b.get("device_plugged", "")
                    per = max(1, len(plugged) // chunks_per_mb)      # device blocks per 2 MiB pageblock
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


def _first_stall(reals: list[Observed], unit_of: dict[str, int]) -> int:
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
    strict_upto = _first_stall(reals, unit_of)
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
        model = model_observed(m, events, set(real.blocks or {}), outcome)
        diff = compare(i, step["spec"], real, model, plan.workload, strict_upto, with_dev)
        if real.outcome == "guest-dead":
            panic = [line for line in step.get("console_highlights") or [] if "panic" in line.lower()]
            diff.notes.append("real guest: " + (panic[-1].split("]", 1)[-1].strip() if panic else
                                                str(step.get("error", "unresponsive"))))
        if model.outcome == "guest-dead" and not any(d.model.outcome == "guest-dead" for d in report.steps):
            diff.notes.append(f"model guest: {m.guest.dead}")
        report.steps.append(diff)
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
