"""``vmemlab run``: play a scenario and print a readable timeline (or JSON records)."""
from __future__ import annotations

HELP = "Run a scenario file (or the built-in default) and print its timeline"

import argparse
import json
import sys

from vmemlab.core import runner
from vmemlab.core.events import Kind
from vmemlab.core.mirrors import qmp_memory_devices
from vmemlab.core.scenario import ScenarioError, default, load, with_seed
from vmemlab.core.units import format_size, human


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="scenario TOML file (default: the built-in tour)")
    p.add_argument("--json", action="store_true", help="print one JSON record per step")
    p.add_argument("-s", "--seed", type=int, help="override the scenario's seed")
    p.add_argument("-v", "--verbose", action="store_true", help="print every event, not a summary")


def load_scenario(args: argparse.Namespace):
    """The scenario named on the command line, or the default; prints the error and exits 2."""
    try:
        sc = load(args.file) if args.file else default()
    except ScenarioError as e:
        print(f"vmemlab: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return with_seed(sc, args.seed) if getattr(args, "seed", None) is not None else sc


def step_record(sb, result) -> dict:
    m = sb.machine
    met = m.metrics()
    return {
        "step": result.step.index,
        "action": result.step.action.to_dict(),
        "note": result.step.note,
        "error": result.error,
        "time": round(m.now, 6),
        "events": [e.to_dict() for e in result.events],
        "query-memory-devices": qmp_memory_devices(m),
        "blocks": met.blocks,
        "MemTotal": met.mem_total,
        "MemFree": met.mem_free,
    }


def main(args: argparse.Namespace) -> int:
    sc = load_scenario(args)
    if not args.json:
        print(f"== {sc.title}")
        if sc.intro.strip():
            print(sc.intro.strip())
    for sb, res in runner.run(sc):
        if args.json:
            print(json.dumps(step_record(sb, res)))
            continue
        print_step(sb, res, args.verbose)
    return 0


def print_step(sb, res, verbose: bool) -> None:
    m = sb.machine
    met = m.metrics()
    print(f"\n-- step {res.step.index}: {res.step.action.label()}   (t={m.now:.3f}s)")
    if res.step.note:
        print(f"   {res.step.note}")
    shown = [e for e in res.events if e.kind != Kind.NOTE]
    requests = [e for e in shown if e.kind == Kind.REQUEST]
    if not verbose and len(requests) > 6:
        others = [e for e in shown if e.kind not in (Kind.REQUEST, Kind.BLOCK_ADDED, Kind.BLOCK_ONLINED,
                                                     Kind.BLOCK_REMOVED, Kind.FAKE_OFFLINE, Kind.CONFIG)]
        for e in requests[:3]:
            print(f"   {e.text}")
        print(f"   ... {len(requests) - 6} more requests ...")
        for e in requests[-3:]:
            print(f"   {e.text}")
        counts = {}
        for e in shown:
            counts[e.kind.value] = counts.get(e.kind.value, 0) + 1
        print("   events: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
        for e in others:
            print(f"   * {e.text}")
    else:
        for e in shown:
            mark = "!" if e.kind in (Kind.ERROR, Kind.OOM, Kind.FAKE_OFFLINE_FAILED) else " "
            print(f"  {mark}{e.text}")
    for d, drv in zip(m.devices, m.drivers):
        print(f"   {d.id}: requested {format_size(d.requested_size)}, plugged {format_size(d.plugged_size)}, "
              f"usable {format_size(d.usable_region_size)}; driver {drv.mode} {drv.status()}")
    blocks = ", ".join(f"{k} {v}" for k, v in sorted(met.blocks.items())) or "none"
    print(f"   memory blocks: {blocks}; MemTotal {human(met.mem_total)}, MemFree {human(met.mem_free)}, "
          f"memmap {human(met.memmap)}")
