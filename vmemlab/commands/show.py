"""``vmemlab show WHAT [--at STEP] [FILE]``: the model's state as a real tool prints it."""
from __future__ import annotations

HELP = "Print the state after a scenario step as lsmem, sysfs, /proc, QMP, HMP or virsh show it"

import argparse
import sys

from vmemlab.arguments import seed, whole
from vmemlab.core import runner
from vmemlab.core.mirrors import MIRRORS
from vmemlab.core.sandbox import Sandbox

from .run import load_scenario


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=list(MIRRORS) + ["all"], metavar="WHAT",
                   help="one of: " + ", ".join(MIRRORS) + ", all")
    p.add_argument("file", nargs="?", help="scenario TOML file (default: the built-in tour)")
    # nargs="+" so that FILE may also follow --at STEP (argparse would otherwise leave it unmatched)
    p.add_argument("--at", nargs="+", metavar="STEP",
                   help="show the state after this step (0 = right after boot; default: the last step)")
    p.add_argument("-s", "--seed", type=seed, help="override the scenario's seed (0 to 2^64-1)")


def step_and_file(args: argparse.Namespace) -> int | None:
    """Split ``--at STEP [FILE]`` into the step number and args.file; exits 2 on bad input."""
    if args.at is None:
        return None
    extra = args.at[1:]
    if len(extra) > 1 or (extra and args.file):
        print("vmemlab: show takes one FILE: vmemlab show WHAT [--at STEP] [FILE]", file=sys.stderr)
        raise SystemExit(2)
    if extra:
        args.file = extra[0]
    try:
        return whole(args.at[0], 0, 1 << 30, "a step number, 0 = right after boot")
    except argparse.ArgumentTypeError as e:
        print(f"vmemlab: --at: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def main(args: argparse.Namespace) -> int:
    at = step_and_file(args)
    sc = load_scenario(args)
    at = len(sc.steps) if at is None else at
    if not 0 <= at <= len(sc.steps):
        print(f"vmemlab: --at: step {at} does not exist; allowed: 0 to {len(sc.steps)}", file=sys.stderr)
        return 2
    sb = Sandbox(sc.config)
    for step in sc.steps[:at]:
        runner.apply_step(sb, step)
    names = list(MIRRORS) if args.what == "all" else [args.what]
    for i, name in enumerate(names):
        mirror = MIRRORS[name]
        if len(names) > 1:
            print(("\n" if i else "") + f"$ {mirror.command}")
        print(mirror.render(sb.machine))
    return 0
