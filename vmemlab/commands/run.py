"""``vmemlab run``: play a scenario and print a readable timeline (or JSON records).

``--check`` grades every step's ``expect`` table, ``--quiz`` asks the student to predict the
steps marked ``ask`` before revealing them, ``--trace`` and ``--metrics`` export the run.
"""
from __future__ import annotations

HELP = "Run a scenario file (or the built-in default) and print its timeline"

import argparse
import gc
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from vmemlab.arguments import seed
from vmemlab.core import expect, quiz, trace_io
from vmemlab.core.events import Kind
from vmemlab.core.mirrors import qmp_memory_devices
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.scenario import ScenarioError, default, load, with_seed
from vmemlab.core.units import format_size, human


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="scenario TOML file (default: the built-in tour)")
    p.add_argument("--json", action="store_true", help="print one JSON record per step")
    p.add_argument("-s", "--seed", type=seed, help="override the scenario's seed (0 to 2^64-1)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every event, not a summary")
    p.add_argument("--check", action="store_true",
                   help="grade every step's expect table; exit 1 if any expectation fails")
    p.add_argument("--quiz", action="store_true",
                   help="at steps with 'ask', read your prediction from stdin, then reveal the result")
    p.add_argument("--trace", metavar="OUT.json", help="write a replayable trace (see vmemlab replay)")
    p.add_argument("--metrics", metavar="OUT.csv", help="write one CSV row of metrics per step")


def load_scenario(args: argparse.Namespace):
    """The scenario named on the command line, or the default, checked completely (config,
    steps, expect tables, the seed); on a problem prints it in one line and exits 2."""
    try:
        sc = load(args.file) if args.file else default()
        return with_seed(sc, args.seed) if getattr(args, "seed", None) is not None else sc
    except ScenarioError as e:
        print(f"vmemlab: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def check_output_file(path: str | None, option: str) -> None:
    """Fail before the run, not after it, if ``path`` cannot be written; exits 2."""
    if path is None:
        return
    p = Path(path)
    example = p / ("trace.json" if option == "--trace" else "metrics.csv")
    if p.is_dir():
        problem = f" is a folder; give a file name in it, e.g. {example}"
    elif not p.parent.is_dir():
        problem = f": the folder {str(p.parent)!r} does not exist"
    elif not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        problem = " is not writable"
    else:
        return
    print(f"vmemlab run: {option}: {path!r}{problem}", file=sys.stderr)
    raise SystemExit(2)


def step_record(sb, result, checks: list[expect.Check] | None = None) -> dict:
    m = sb.machine
    met = m.metrics()
    record = {
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
    if checks is not None:
        record["checks"] = [{"key": c.key, "ok": c.ok, "expected": c.expected, "actual": c.actual} for c in checks]
    return record


def main(args: argparse.Namespace) -> int:
    sc = load_scenario(args)
    check_output_file(args.trace, "--trace")
    check_output_file(args.metrics, "--metrics")
    if args.quiz:
        return run_quiz(sc, sys.stdin, args.verbose)
    if not args.json:
        print(f"== {sc.title}")
        if sc.intro.strip():
            print(sc.intro.strip())
    failed = total = 0
    rows = []
    sb = None
    # a run never goes back in time: no snapshots (at 4 TiB each costs tens of milliseconds)
    with _cyclic_gc_between_reboots() as reboots:
        for g in expect.check_run(sc, Sandbox(sc.config, snapshot_policy="never")):
            sb = g.sandbox
            reboots(sb.machine)
            if not _report_step(args, sb, g, rows):
                continue
            total += len(g.checks)
            failed += sum(not c.ok for c in g.checks)
    if sb is not None and not write_exports(args, sc, sb, rows):
        return 2
    if args.check and not args.json:
        print(f"\n== check: {total - failed} of {total} expectations met"
              + (f", {failed} FAILED" if failed else ""))
    return 1 if args.check and failed else 0


@contextmanager
def _cyclic_gc_between_reboots():
    """Python's cyclic garbage collector, paused while the steps play. A 4 TiB step makes a
    hundred thousand events, and the collector walked them again and again (a tenth of the
    run's time); the model makes no reference cycles to collect, except the machine a reboot
    replaces, so the collector runs once after each step that rebooted. Yields the check to
    call after each step."""
    enabled = gc.isenabled()
    gc.disable()
    boots: list[int] = []

    def after_step(machine) -> None:
        if boots and machine.boot_count != boots[-1]:
            gc.collect()
        boots.append(machine.boot_count)

    try:
        yield after_step
    finally:
        if enabled:
            gc.enable()


def _report_step(args, sb, g, rows: list) -> bool:
    """Print one step (or its JSON record); False when its checks are not counted (JSON)."""
    res, checks = g.result, g.checks
    rows.append((res.step.index, res.step.action.label(), sb.machine.metrics()))
    if args.json:
        print(json.dumps(step_record(sb, res, checks if args.check else None), default=int))
        return False
    print_step(sb, res, args.verbose)
    if args.check:
        print_checks(checks)
    return True


def write_exports(args: argparse.Namespace, sc, sb, rows: list) -> bool:
    """Write --metrics and --trace; False (after one line on stderr) if the system refuses."""
    initial = [(0, "boot", sb.initial_metrics)]
    try:
        if args.metrics:
            with open(args.metrics, "w", encoding="utf-8", newline="") as f:
                f.write(trace_io.metrics_rows(initial + rows))
        if args.trace:
            trace_io.write_trace(args.trace, trace_io.trace(sb, sc.title, sc.source))
    except OSError as e:
        print(f"vmemlab run: cannot write {e.filename!r}: {e.strerror or e}", file=sys.stderr)
        return False
    return True


def print_checks(checks: list[expect.Check]) -> None:
    for c in checks:
        if c.ok:
            print(f"   PASS {c.key} = {c.actual}")
        else:
            print(f"   FAIL {c.key}: expected {c.expected}, actual {c.actual}")


def print_step(sb, res, verbose: bool) -> None:
    m = sb.machine
    print(f"\n-- step {res.step.index}: {res.step.action.label()}   (t={m.now:.3f}s)")
    if res.step.note:
        print(f"   {res.step.note}")
    print_events(res.events, verbose)
    print_state(sb)


_ROUTINE = (Kind.REQUEST, Kind.BLOCK_ADDED, Kind.BLOCK_ONLINED, Kind.BLOCK_REMOVED, Kind.FAKE_OFFLINE, Kind.CONFIG)


def print_events(events, verbose: bool) -> None:
    shown = [e for e in events if e.kind != Kind.NOTE]
    counts: dict[Kind, int] = {}
    for e in shown:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    if not verbose and counts.get(Kind.REQUEST, 0) > 6:
        requests = [e for e in shown if e.kind == Kind.REQUEST]      # one pass each, even at 4 TiB
        for e in requests[:3]:
            print(f"   {e.text}")
        print(f"   ... {len(requests) - 6} more requests ...")
        for e in requests[-3:]:
            print(f"   {e.text}")
        print("   events: " + ", ".join(f"{k.value} x{v}" for k, v in counts.items()))
        for e in shown:
            if e.kind not in _ROUTINE:
                print(f"   * {e.text}")
    else:
        for e in shown:
            mark = "!" if e.kind in (Kind.ERROR, Kind.OOM, Kind.FAKE_OFFLINE_FAILED) else " "
            print(f"  {mark}{e.text}")


def print_state(sb) -> None:
    m = sb.machine
    met = m.metrics()
    for d, drv in zip(m.devices, m.drivers):
        print(f"   {d.id}: requested {format_size(d.requested_size)}, plugged {format_size(d.plugged_size)}, "
              f"usable {format_size(d.usable_region_size)}; driver {drv.mode} {drv.status()}")
    blocks = ", ".join(f"{k} {v}" for k, v in sorted(met.blocks.items())) or "none"
    print(f"   memory blocks: {blocks}; MemTotal {human(met.mem_total)}, MemFree {human(met.mem_free)}, "
          f"memmap {human(met.memmap)}")


# ----- quiz ---------------------------------------------------------------------------------
def run_quiz(sc, stdin: TextIO, verbose: bool = False) -> int:
    """Predict, then reveal: asked steps hide their note until the student has answered."""
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(errors="replace")      # a prediction in another encoding is still read
    print(f"== {sc.title} (quiz)")
    if sc.intro.strip():
        print(sc.intro.strip())
    asked = right = graded = 0
    gen = expect.check_run(sc)
    for step in sc.steps:
        prediction = ""
        if step.ask:
            asked += 1
            print(f"\n-- step {step.index}: {step.action.label()}")
            print(f"?  {step.ask}")
            print("your prediction> ", end="", flush=True)
            prediction = stdin.readline().strip()
            if not stdin.isatty():
                print(prediction or "(no answer)")
        g = next(gen)
        sb, res, checks = g.sandbox, g.result, g.checks
        if not step.ask:
            print_step(sb, res, verbose)
            continue
        print(f"   {step.note}" if step.note else "   (what happened:)")
        print_events(res.events, verbose)
        print_state(sb)
        result = quiz.grade(step, prediction, g.state, checks)
        if result.ok is not None:
            graded += 1
            right += result.ok
        print(f"   {result.text()}")
        if step.answer:
            print(f"   answer: {step.answer}")
    print(f"\n== score: {right} of {graded} predictions right"
          + (f" ({asked - graded} not graded)" if asked > graded else ""))
    return 0
