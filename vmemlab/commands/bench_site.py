"""``vmemlab bench-site``: time the static site in chromium (cold load breakdown, action latency)."""
from __future__ import annotations

HELP = "Benchmark the static site: cold load to interactive and action -> view at 64 GiB"

import argparse
import json
import tempfile
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", type=Path, help="a site built by build-web (default: build one in a temp folder)")
    p.add_argument("--cache", type=Path, help="download cache for the build (as build-web --cache)")
    p.add_argument("--runs", type=int, default=1, help="cold loads to run; medians are printed")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def main(args: argparse.Namespace) -> int:
    from vmemlab.bench import site as bench

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.site
        if folder is None:
            from vmemlab.webstatic.build import build
            folder = build(Path(tmp) / "site", args.cache, log=lambda _m: None).out
        rows = bench.run(folder, max(1, args.runs))
    print(json.dumps(rows, indent=1) if args.json else bench.table(rows))
    return 0
