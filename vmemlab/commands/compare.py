"""``vmemlab compare``: one scenario through virtio-mem, virtio-balloon and ACPI DIMM, side by side.

Prints a table per step and a summary; ``--json`` prints the whole comparison as one JSON
object. ``compare = {...}`` expectations in the file are graded; a failed one exits 1.
"""
from __future__ import annotations

HELP = "Run a scenario through virtio-mem, virtio-balloon and ACPI DIMM side by side"

import argparse
from dataclasses import asdict
import json
import sys

from vmemlab.arguments import integer, seed
from vmemlab.core.compare import ACPI_MAX_RAM_SLOTS, CompareOptions, compare
from vmemlab.core.compare.balloon import PLACEMENT_HELP, PLACEMENTS
from vmemlab.core.compare.expectations import grade, parse_scenario
from vmemlab.core.compare.tables import render, step_details, step_table, summary_table
from vmemlab.core.scenario import Scenario, ScenarioError, builtin, load, with_seed
from vmemlab.core.units import SizeError, parse_size

DEFAULT = "15_balloon_fragments.toml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help=f"scenario TOML file (default: the built-in lesson {DEFAULT})")
    p.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    p.add_argument("-s", "--seed", type=seed, help="override the scenario's seed (0 to 2^64-1)")
    p.add_argument("--dimm-size", default="0", metavar="SIZE",
                   help="size of every DIMM, a multiple of the memory block size (default: the smallest "
                        "that reaches maxmem in the slots)")
    p.add_argument("--dimm-slots", type=integer, default=ACPI_MAX_RAM_SLOTS, metavar="N",
                   help=f"ACPI memory slots, 1 to {ACPI_MAX_RAM_SLOTS} (QEMU -m slots=N)")
    p.add_argument("--balloon-placement", choices=PLACEMENTS, default=CompareOptions.balloon_placement,
                   help="which free pages inflation takes after boot: "
                        + "; ".join(f"{k} = {v}" for k, v in PLACEMENT_HELP.items()))


def _fail(message: str) -> SystemExit:
    print(f"vmemlab compare: {message}", file=sys.stderr)
    return SystemExit(2)


def _scenario(args: argparse.Namespace) -> tuple[Scenario, dict]:
    """The scenario and its parsed ``compare`` expectations per step; bad input exits 2."""
    try:
        sc = load(args.file) if args.file else builtin(DEFAULT)
        specs = parse_scenario(sc)
        return (with_seed(sc, args.seed) if args.seed is not None else sc), specs
    except ScenarioError as e:
        raise _fail(str(e)) from None


def _options(args: argparse.Namespace) -> CompareOptions:
    try:
        size = parse_size(args.dimm_size, "--dimm-size")
    except SizeError as e:
        raise _fail(str(e)) from None
    return CompareOptions(size, args.dimm_slots, args.balloon_placement)


def main(args: argparse.Namespace) -> int:
    sc, specs = _scenario(args)
    try:
        result = compare(sc, _options(args))
    except ValueError as e:
        raise _fail(str(e)) from None
    graded = grade(result, specs)
    failed = sum(not c.ok for checks in graded.values() for c in checks)
    if args.json:
        out = result.to_dict()
        for row in out["rows"]:
            row["checks"] = [asdict(c) for c in graded.get(row["step"], [])]
        print(json.dumps(out))
        return 1 if failed else 0
    print(f"== {sc.title}  (seed {sc.config.seed}; same workload in all three)")
    for row in result.rows:
        print(f"\n-- step {row.step}: {row.action}")
        if row.note:
            print(f"   {row.note}")
        print(render(step_table(row), "   "))
        for line in step_details(row):
            print(f"   * {line}")
        for c in graded.get(row.step, []):
            print(f"   {'PASS' if c.ok else 'FAIL'} {c.key}: expected {c.expected}, got {c.actual}")
    print()
    print(render(summary_table(result), ""))
    for name, s in result.summary.items():
        for fact in s.facts:
            print(f"  {s.title}: {fact}")
    if failed:
        print(f"\n{failed} expectation(s) failed", file=sys.stderr)
    return 1 if failed else 0
