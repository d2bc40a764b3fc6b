"""``vmemlab bench``: print the model's benchmark table (medians of repeats, peak RSS)."""
from __future__ import annotations

HELP = "Benchmark the model at 1 GiB, 64 GiB and 4 TiB and print a table"

import argparse
import json

from vmemlab.arguments import count, sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=sizes, default=sizes("1G,64G,4T"),
                   help="comma-separated region sizes (default 1G,64G,4T)")
    p.add_argument("--repeats", type=count(), default=3, help="repeats per size; the median is printed")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import model

    rows = model.run(args.sizes, args.repeats)
    print(json.dumps(rows, indent=1) if args.json else model.table(rows))
    return 0
