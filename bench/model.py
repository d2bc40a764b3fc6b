"""Model benchmark: rows that show the work they time.

Cases (each at 1 GiB, 64 GiB and 4 TiB regions, 128 GiB of boot memory):

- ``movable``: the region onlined to ZONE_MOVABLE and plugged whole, anonymous memory (1/64 of
  the region, random placement) scattered over it, ``fragment 1``, then ``request 0``: every
  plugged subblock holds movable pages that must migrate first (migration-heavy);
- ``normal``: the same onlined to ZONE_NORMAL: grouped unmovable pages pin some subblocks, the
  driver skips them and ends -EBUSY with its retry timer armed (stall-heavy);
- ``numa``: two devices of half the size on two nodes (64 GiB boot memory each), the same steps;
- ``bbm``: the ``movable`` steps in Big Block Mode;
- ``memory`` (64 TiB, the documented maximum; other sizes with ``--memory-sizes``): 4 steps
  (request 1 TiB or the whole region if smaller, 1/64 of that as anon, fragment, request 0) and
  one undo: what the state of a region that size and its time travel cost.

Every run of a row is a fresh subprocess (its peak RSS is its own) that drives a ``Sandbox``
as the terminal UI and the web page hold it: each step's settle runs in 30 ms ``Work`` slices
and after every slice the row computes one *view frame*, everything the TUI and the web page
show (``core.view`` summaries: block states, change marks, the chunk grid, status bar, panels).
So "model s" is the model's share and "views s" the views' share of the row; "longest slice ms"
is how long a settle slice blocked a view's event loop at worst, "longest action ms" the action
itself (an action, e.g. a 64 GiB allocation, runs in one piece before its settle). Every row
prints how much was plugged and unplugged, how many pages migrated and what is left plugged,
so a row that did nothing shows it.

The ``run`` row times ``vmemlab run bench/busy_drain_4t.toml`` (the issue's exact 4 TiB
scenario) as a user runs it: a new process, wall and CPU time and peak RSS.

Times are medians of repeats; nothing here is asserted by tests (timings flake on a shared
2-core machine).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from vmemlab.core import actions as act
from vmemlab.core import view
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Kind
from vmemlab.core.memory import GuestMemory
from vmemlab.core.runner import begin_step
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.scenario import Scenario, Step
from vmemlab.core.units import GiB, TiB, format_size

SIZES = (1 * GiB, 64 * GiB, 4 * TiB)
CASES = ("movable", "normal", "numa", "bbm")
MEMORY_REGION = 64 * TiB
BOOT = 128 * GiB
SLICE_S = 0.03            # a view runs the settle in slices this long and repaints in between
VIEW_ROWS = 200           # the chunk grid folded to this many rows, as a view shows it
RUN_FILE = "busy_drain_4t.toml"


# ----- the scenarios ----------------------------------------------------------------------------
def _steps(actions: list[tuple[str, dict]]) -> list[Step]:
    return [Step(i + 1, act.make(name, **args)) for i, (name, args) in enumerate(actions)]


def scenario(case: str, region: int) -> Scenario:
    """The scenario of one benchmark row (``case`` at ``region`` bytes)."""
    anon = max(region // 64, 4 << 20)
    drain = [("alloc", {"size": anon, "kind": "anon", "placement": "random"}), ("fragment", {"percent": 1.0})]
    if case == "memory":
        cfg = MachineConfig(boot_memory=BOOT, auto_online_blocks="online_movable", seed=1,
                            devices=(DeviceConfig(region_size=region),))
        plug = min(region, TiB)
        steps = [("request", {"size": plug}), ("alloc", {"size": max(plug // 64, 4 << 20), "kind": "anon"}),
                 ("fragment", {"percent": 1.0}), ("request", {"size": 0})]
        return Scenario(f"memory {format_size(region)}", "", cfg, _steps(steps))
    if case == "numa":
        half = region // 2
        cfg = MachineConfig(boot_memory=BOOT, nodes=2, auto_online_blocks="online_movable", seed=1,
                            devices=(DeviceConfig(id="vmem0", region_size=half, node=0),
                                     DeviceConfig(id="vmem1", region_size=half, node=1)))
        steps = [("request", {"size": half, "device": "vmem0"}), ("request", {"size": half, "device": "vmem1"}),
                 *drain, ("request", {"size": 0, "device": "vmem0"}), ("request", {"size": 0, "device": "vmem1"})]
        return Scenario(f"numa {format_size(region)}", "", cfg, _steps(steps))
    online = "online" if case == "normal" else "online_movable"
    cfg = MachineConfig(boot_memory=BOOT, auto_online_blocks=online, seed=1, force_bbm=case == "bbm",
                        devices=(DeviceConfig(region_size=region),))
    steps = [("request", {"size": region}), *drain, ("request", {"size": 0})]
    return Scenario(f"{case} {format_size(region)}", "", cfg, _steps(steps))


# ----- one row ----------------------------------------------------------------------------------
class _Migrated:
    """Pages the model migrated: ``GuestMemory.migrated_total``; a model from before that counter
    (to measure the "before" table) is counted by wrapping its migrate_out in this process."""

    pages = 0
    wrapped = False

    @classmethod
    def install(cls) -> None:
        if hasattr(GuestMemory(2 << 20, []), "migrated_total"):
            return
        original = GuestMemory.migrate_out

        def counted(mem, sl):
            res = original(mem, sl)
            cls.pages += res.migrated
            return res

        GuestMemory.migrate_out = counted
        cls.wrapped = True

    @classmethod
    def of(cls, sb: Sandbox) -> int:
        return cls.pages if cls.wrapped else sb.machine.mem.migrated_total


def view_frame(sb: Sandbox, marks: list[np.ndarray], new_events: list) -> None:
    """Everything the TUI and the web page compute for one repaint (core.view only)."""
    m = sb.machine
    history = sb.metrics_history()
    before = history[-1]
    for dev in range(len(m.devices)):
        view.block_cells(m, dev)
        marks[dev] = np.maximum(marks[dev], view.block_marks(m, dev, new_events))
        chunks = view.chunk_cells(m, dev)
        per = -(-len(chunks) // VIEW_ROWS)
        pad = (-len(chunks)) % per
        if pad:
            chunks = np.concatenate((chunks, np.zeros((pad, chunks.shape[1]), dtype=chunks.dtype)))
        chunks.reshape(-1, per, chunks.shape[1]).max(axis=1)
        view.status_bar(m, dev, before, new_events)
        view.device_panel(m, dev)
        view.block_info(m, dev, 0)
    view.guest_panel(m)


def _once(case: str, region: int) -> dict:
    sc = scenario(case, region)
    _Migrated.pages = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    sb = Sandbox(sc.config)
    model_s = view_s = longest = longest_action = 0.0
    frames = 0
    for step in sc.steps:
        marks = [np.zeros(d.n_mb, dtype=np.uint8) for d in sb.machine.drivers]
        t = time.perf_counter()
        work, error = begin_step(sb, step)
        if error:
            raise RuntimeError(f"{sc.title}: step {step.index} refused: {error}")
        first = work.first_event
        dt = time.perf_counter() - t
        model_s, longest_action = model_s + dt, max(longest_action, dt)
        done = False
        while not done:
            t = time.perf_counter()
            done = work.run(seconds=SLICE_S)
            dt = time.perf_counter() - t
            model_s, longest = model_s + dt, max(longest, dt)
            t = time.perf_counter()
            view_frame(sb, marks, sb.events[first:])
            first = len(sb.events)
            view_s += time.perf_counter() - t
            frames += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    plugged = unplugged = requests = 0
    for e in sb.events:
        if e.kind == Kind.REQUEST and e.response == "ACK":
            requests += 1
            if e.request == "PLUG":
                plugged += e.size
            elif e.request == "UNPLUG":
                unplugged += e.size
    left = sum(d.plugged_size for d in sb.machine.devices)
    migrated = _Migrated.of(sb)
    t = time.perf_counter()
    sb.undo()
    undo_s = time.perf_counter() - t
    return {"wall_s": wall, "cpu_s": cpu, "model_s": model_s, "views_s": view_s, "frames": frames,
            "longest_ms": longest * 1000, "action_ms": longest_action * 1000, "undo_s": undo_s, "plugged": plugged, "unplugged": unplugged,
            "migrated": migrated, "left": left, "requests": requests, "events": len(sb.events)}


def measure(case: str, region: int) -> dict:
    """One run of one row in this (fresh) process, with the process's peak RSS."""
    _Migrated.install()
    row = {"case": case, "region": region, **_once(case, region)}
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def measure_row(case: str, region: int, repeats: int) -> dict:
    """A row: every repeat in a new process (so each peak RSS is its run's own); medians of the
    times, the largest peak RSS, the work of the first run (every run does the same work)."""
    runs = []
    for _ in range(repeats):
        code = f"import json; from vmemlab.bench.model import measure; print(json.dumps(measure({case!r}, {region})))"
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"bench row {case} {format_size(region)} failed: {res.stderr.strip()[-800:]}")
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    row = {**runs[0], "repeats": repeats}
    for k in ("wall_s", "cpu_s", "model_s", "views_s", "longest_ms", "action_ms", "undo_s"):
        row[k] = statistics.median(r[k] for r in runs)
    row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return row


# ----- `vmemlab run FILE` -----------------------------------------------------------------------
def run_file() -> Path:
    """The issue's exact 4 TiB scenario, shipped with the package so anyone can rerun it."""
    return Path(str(resources.files("vmemlab.bench") / RUN_FILE))


def measure_run(repeats: int) -> dict:
    """``vmemlab run FILE`` in a new process per repeat: wall, CPU and peak RSS (wait4)."""
    walls, cpus, rss = [], [], 0.0
    out = ""
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "vmemlab", "run", str(run_file())],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = p.stdout.read()
        p.stdout.close()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - t)
        if p.returncode:
            raise RuntimeError(f"vmemlab run {run_file()} failed: {out.strip()[-500:]}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss / 1024)
    return {"case": "run", "region": 4 * TiB, "repeats": repeats, "wall_s": statistics.median(walls),
            "cpu_s": statistics.median(cpus), "peak_rss_mb": rss, **_run_outcome(out)}


def _run_outcome(out: str) -> dict:
    """What the run's own summary says: left plugged (the last step's device line)."""
    lines = [ln for ln in out.splitlines() if "vmem0: requested" in ln]
    left = lines[-1].split("plugged", 1)[1].split(",", 1)[0].strip() if lines else "?"
    return {"left_text": left}


# ----- the table --------------------------------------------------------------------------------
def _size(n: int) -> str:
    return format_size(n) if n else "0"


def table(rows: list[dict]) -> str:
    head = ("case", "region", "plugged", "unplugged", "migrated pages", "left plugged", "wall s", "CPU s",
            "model s", "views s", "longest slice ms", "longest action ms", "undo s", "peak RSS MB")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        if r["case"] == "run":
            cells = ("vmemlab run " + RUN_FILE, format_size(r["region"]), "", "", "", r["left_text"],
                     f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}", "", "", "", "", "", f"{r['peak_rss_mb']:.0f}")
        else:
            cells = (r["case"], format_size(r["region"]), _size(r["plugged"]), _size(r["unplugged"]),
                     f"{r['migrated']:,}", _size(r["left"]), f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}",
                     f"{r['model_s']:.2f}", f"{r['views_s']:.2f}", f"{r['longest_ms']:.0f}",
                     f"{r['action_ms']:.0f}" if "action_ms" in r else "-",
                     f"{r['undo_s']:.2f}", f"{r['peak_rss_mb']:.0f}")
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def plan(cases: tuple[str, ...], sizes: tuple[int, ...],
         memory_sizes: tuple[int, ...] = (MEMORY_REGION,)) -> list[tuple[str, int]]:
    """The rows to run: each case at each size, the memory rows (64 TiB), the ``run`` row."""
    rows = [(c, s) for c in cases if c in CASES for s in sizes]
    if "memory" in cases:
        rows += [("memory", s) for s in memory_sizes]
    if "run" in cases:
        rows.append(("run", 4 * TiB))
    return rows


def run(cases: tuple[str, ...] = CASES + ("memory", "run"), sizes: tuple[int, ...] = SIZES,
        repeats: int = 3, progress=None, memory_sizes: tuple[int, ...] = (MEMORY_REGION,)) -> list[dict]:
    rows = []
    for case, size in plan(cases, sizes, memory_sizes):
        row = measure_run(repeats) if case == "run" else measure_row(case, size, repeats)
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows
