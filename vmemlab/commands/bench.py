"""``vmemlab bench``: print the model's benchmark table (medians of repeats, peak RSS)."""
from __future__ import annotations

HELP = "Benchmark the model at 1 GiB, 64 GiB and 4 TiB and print a table"

import argparse
import json

from vmemlab.core.units import parse_size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="1G,64G,4T", help="comma-separated region sizes (default 1G,64G,4T)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per size; the median is printed")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import model

    sizes = tuple(parse_size(s.strip(), "--sizes") for s in args.sizes.split(","))
    rows = model.run(sizes, max(1, args.repeats))
    print(json.dumps(rows, indent=1) if args.json else model.table(rows))
    return 0
