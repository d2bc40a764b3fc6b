"""``vmemlab bench-web``: the browser view's benchmark table (first paint, latency, bytes)."""
from __future__ import annotations

HELP = "Benchmark the browser view (first paint, action -> updated view, bytes per update)"

import argparse

from vmemlab.arguments import count, sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=sizes, default=sizes("4G,4T"), help="comma-separated region sizes (default 4G,4T)")
    p.add_argument("--repeats", type=count(), default=7, help="actions per size; medians are printed")
    p.add_argument("--no-browser", action="store_true", help="only the in-process numbers (no chromium)")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import web

    print(web.run(args.sizes, args.repeats, browser=not args.no_browser))
    return 0
