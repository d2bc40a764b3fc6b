"""``vmemlab bench-tui``: first frame and key press -> repaint times of the terminal UI."""
from __future__ import annotations

HELP = "Benchmark the terminal UI (first frame, key press -> repaint) on a big region"

import argparse
import json
import sys

from vmemlab.core.units import SizeError, parse_size


def _terminal(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size: {text!r} is not WIDTHxHEIGHT, e.g. 200x60") from None
    if w < 40 or h < 12:
        raise argparse.ArgumentTypeError(f"--size: {text!r} is too small; at least 40x12")
    return w, h


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default="4T", help="device region size (default 4T)")
    p.add_argument("--size", type=_terminal, default=(200, 60), help="terminal size WIDTHxHEIGHT (default 200x60)")
    p.add_argument("--presses", type=int, default=15, help="presses per key; the median is printed")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def main(args: argparse.Namespace) -> int:
    try:
        region = parse_size(args.region, "--region")
    except SizeError as e:
        print(f"vmemlab bench-tui: {e}", file=sys.stderr)
        return 2
    from vmemlab.bench import tui

    result = tui.run(region, args.size, max(1, args.presses))
    print(json.dumps(result, indent=1) if args.json else tui.table(result))
    return 0
