"""``vmemlab bench-web``: the browser view's benchmark table (first paint, latency, bytes)."""
from __future__ import annotations

HELP = "Benchmark the browser view (first paint, action -> updated view, bytes per update)"

import argparse

from vmemlab.core.units import parse_size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="4G,4T", help="comma-separated region sizes (default 4G,4T)")
    p.add_argument("--repeats", type=int, default=7, help="actions per size; medians are printed")
    p.add_argument("--no-browser", action="store_true", help="only the in-process numbers (no chromium)")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import web

    sizes = tuple(parse_size(s.strip(), "--sizes") for s in args.sizes.split(","))
    print(web.run(sizes, max(1, args.repeats), browser=not args.no_browser))
    return 0
