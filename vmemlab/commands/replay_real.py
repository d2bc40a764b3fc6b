"""``vmemlab replay-real TRACE.json|FOLDER...``: replay traces of the real driver and score the model."""
from __future__ import annotations

import argparse
import json

HELP = "Replay traces of the real Linux driver + QEMU device (files or folders) and score the model strictly"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("traces", nargs="+", help="trace JSON files recorded by shared/oracle/trace.py, or folders of them")
    p.add_argument("--json", action="store_true", help="print machine-readable reports (per step a real and a "
                   "model record)")
    p.add_argument("--placement", choices=("seeded", "trace"), default="seeded",
                   help="where the kernel's own unmovable pages go: the model's seeded choice (default), or "
                        "'trace', a DIAGNOSTIC that pins them where the trace shows them stuck")
    p.add_argument("--seed", type=int, default=0, help="the model's seed (default 0)")
    p.add_argument("--min-score", type=float, default=None,
                   help="exit with status 1 if any trace scores below this (a trace that cannot run scores 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the requests of every step")


def main(args: argparse.Namespace) -> int:
    from vmemlab.core import oracle

    files = oracle.trace_files(args.traces)
    reports = [oracle.replay_path(f, args.placement, args.seed) for f in files]
    if args.json:
        print(json.dumps([oracle.report_json(r) for r in reports], indent=1))
    else:
        text = [oracle.format_report(r, args.verbose) for r in reports]
        if len(reports) > 1:
            text.append(oracle.format_summary(reports))
        print("\n\n".join(text) if text else "vmemlab replay-real: no trace files found")
    if not reports or any(r.error for r in reports):
        return 1
    if args.min_score is not None and any(r.score < args.min_score for r in reports):
        return 1
    return 0
