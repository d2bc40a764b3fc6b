"""``vmemlab bench``: the model's benchmark table (work done, medians of repeats, peak RSS)."""
from __future__ import annotations

HELP = ("Benchmark the model: busy drains (ZONE_MOVABLE, ZONE_NORMAL, NUMA, Big Block Mode) at "
        "1 GiB, 64 GiB and 4 TiB, a 64 TiB memory row and `vmemlab run` of the 4 TiB drain")

import argparse
import json
import sys

from vmemlab.arguments import count, sizes

ALL_CASES = ("movable", "normal", "numa", "bbm", "memory", "run")


def _cases(text: str) -> tuple[str, ...]:
    cases = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in cases if c not in ALL_CASES]
    if bad or not cases:
        raise argparse.ArgumentTypeError(f"{bad[0] if bad else text!r} is not a case; "
                                         f"allowed: {', '.join(ALL_CASES)}")
    return cases


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cases", type=_cases, default=ALL_CASES,
                   help=f"comma-separated rows to run (default all: {','.join(ALL_CASES)})")
    p.add_argument("--sizes", type=sizes, default=sizes("1G,64G,4T"),
                   help="comma-separated region sizes for movable/normal/numa/bbm (default 1G,64G,4T)")
    p.add_argument("--memory-sizes", type=sizes, default=sizes("64T"),
                   help="comma-separated region sizes for the memory rows (default 64T)")
    p.add_argument("--repeats", type=count(), default=3, help="repeats per row; medians are printed (default 3)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import model

    def progress(row: dict) -> None:
        if not args.json:
            print(f"  done: {row['case']} {row['region'] >> 30} GiB", file=sys.stderr, flush=True)

    rows = model.run(args.cases, args.sizes, args.repeats, progress, args.memory_sizes)
    print(json.dumps(rows, indent=1) if args.json else model.table(rows))
    return 0
