"""``vmemlab replay-real TRACE.json``: replay a trace of the real driver and diff the model."""
from __future__ import annotations

import argparse
import json
import sys

HELP = "Replay a trace of the real Linux driver + QEMU device and diff the model against it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("traces", nargs="+", help="trace JSON files recorded by shared/oracle/trace.py")
    p.add_argument("--json", action="store_true", help="print machine-readable reports")
    p.add_argument("--placement", choices=("trace", "seeded"), default="trace",
                   help="where the kernel's own unmovable pages go: as the trace shows (default) or seeded")
    p.add_argument("-v", "--verbose", action="store_true", help="print the requests of every step")


def main(args: argparse.Namespace) -> int:
    from vmemlab.core import oracle

    reports = []
    for path in args.traces:
        try:
            trace = oracle.load(path)
        except (OSError, json.JSONDecodeError, KeyError) as e:
            print(f"vmemlab: {path}: not a readable trace ({e})", file=sys.stderr)
            return 2
        reports.append(oracle.replay(trace, placement=args.placement))
    if args.json:
        print(json.dumps([oracle.report_json(r) for r in reports], indent=1))
    else:
        print("\n\n".join(oracle.format_report(r, args.verbose) for r in reports))
    return 0
