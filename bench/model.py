"""Model benchmark: a plug / fragment / unplug cycle at 1 GiB, 64 GiB and 4 TiB.

Each region size runs in a fresh subprocess so its peak RSS is its own. Times are medians of
repeats; nothing here is asserted by tests (timings flake on a shared 2-core machine).
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, TiB, format_size

SIZES = (1 * GiB, 64 * GiB, 4 * TiB)


def machine_for(region: int) -> Machine:
    """A VM whose boot memory can hold the memmap of the whole region (1/64 of it)."""
    boot = max(1 * GiB, region // 32)
    return Machine(MachineConfig(boot_memory=boot, seed=1, devices=(DeviceConfig(region_size=region),)))


def _settle_timed(m: Machine, step_times: list[float]) -> int:
    """Machine.settle(), timing every step."""
    n = 0
    while True:
        t = time.perf_counter()
        if not m.step():
            return n
        step_times.append(time.perf_counter() - t)
        n += 1


def cycle(region: int) -> dict:
    m = machine_for(region)
    m.take_events()
    out: dict = {}
    step_times: list[float] = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    m.set_requested_size(0, region)
    steps_up = _settle_timed(m, step_times)
    t1 = time.perf_counter()
    ev_up = len(m.take_events())
    act.apply(m, act.make("fragment", percent=1.0, spread="worst"))
    t2 = time.perf_counter()
    m.take_events()
    m.set_requested_size(0, 0)
    steps_down = _settle_timed(m, step_times)
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    ev_down = len(m.take_events())
    out.update(plug_s=t1 - t0, fragment_s=t2 - t1, unplug_s=t3 - t2, cycle_s=t3 - t0, cycle_cpu_s=cpu,
               steps=steps_up + steps_down, events=ev_up + ev_down,
               plugged_after=m.devices[0].plugged_size, step_s=statistics.median(step_times))
    return out


def measure(region: int, repeats: int) -> dict:
    runs = [cycle(region) for _ in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs)
           for k in ("plug_s", "fragment_s", "unplug_s", "cycle_s", "cycle_cpu_s")}
    step = statistics.median(r["step_s"] for r in runs)
    events = runs[0]["events"]
    return {"region": region, **med, "step_ms": step * 1e3, "events": events,
            "events_per_s": events / max(med["plug_s"] + med["unplug_s"], 1e-9),
            "plugged_after": runs[0]["plugged_after"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def table(rows: list[dict]) -> str:
    head = ("region", "plug 0->full s", "fragment s", "unplug full->0 s", "cycle s", "cycle CPU s", "one step ms",
            "events", "events/s", "left plugged", "peak RSS MB")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        lines.append(" | ".join((format_size(r["region"]), f"{r['plug_s']:.3f}", f"{r['fragment_s']:.3f}",
                                 f"{r['unplug_s']:.3f}", f"{r['cycle_s']:.3f}", f"{r['cycle_cpu_s']:.3f}",
                                 f"{r['step_ms']:.3f}",
                                 str(r["events"]), f"{r['events_per_s']:,.0f}",
                                 format_size(r["plugged_after"]), f"{r['peak_rss_mb']:.0f}")))
    return "\n".join(lines)


def run(sizes: tuple[int, ...] = SIZES, repeats: int = 3) -> list[dict]:
    rows = []
    for size in sizes:
        code = ("import json,sys; from vmemlab.bench.model import measure; "
                f"print(json.dumps(measure({size}, {repeats})))")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return rows
