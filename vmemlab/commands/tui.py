"""``vmemlab tui [FILE]``: open the terminal UI on a scenario (the built-in tour by default)."""
from __future__ import annotations

HELP = "Open the terminal UI on a scenario file (default: the built-in tour)"

import argparse
import sys
from pathlib import Path

from vmemlab.arguments import seed
from vmemlab.output import printable
from vmemlab.core.scenario import ScenarioError, default, load, with_seed

FULL_SCREEN = True     # Textual draws the terminal itself


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="scenario TOML file (default: the built-in tour)")
    p.add_argument("-s", "--seed", type=seed, help="override the scenario's seed (0 to 2^64-1)")
    p.add_argument("--export-dir", default=".", help="where ctrl+s (SVG) and e (trace JSON) write (default: .)")


def main(args: argparse.Namespace) -> int:
    try:
        scenario = load(args.file) if args.file else default()
        if args.seed is not None:
            scenario = with_seed(scenario, args.seed)
    except ScenarioError as e:
        print(f"vmemlab tui: {printable(str(e))}", file=sys.stderr)
        return 2
    export_dir = Path(args.export_dir)
    if not export_dir.is_dir():
        print(f"vmemlab tui: --export-dir: {printable(repr(args.export_dir))} is not a folder", file=sys.stderr)
        return 2
    from vmemlab.core.session import Session
    from vmemlab.tui.app import run

    return run(Session(scenario), export_dir)
