"""The ``vmemlab`` command: a thin dispatcher. Views are imported only by their subcommand."""
from __future__ import annotations

import argparse
import importlib
import sys

import pkgutil

from . import __version__, commands
from .output import printable_output

# Every module in vmemlab.commands is a subcommand (underscores become dashes). Each provides
# HELP (one line), add_arguments(parser) and main(args) -> int, and imports views lazily. What a
# command prints shows control characters as escapes (vmemlab.output), unless it sets
# FULL_SCREEN = True because it draws the terminal itself (the TUI).
ORDER = ("run", "tui", "serve", "show", "compare", "replay", "replay-real", "bench", "build-web")


def command_names() -> list[str]:
    found = [m.name.replace("_", "-") for m in pkgutil.iter_modules(commands.__path__)]
    return sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmemlab", description="vmemlab: watch and drive virtio-mem memory hot(un)plug.")
    parser.add_argument("--version", action="version", version=f"vmemlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        mod = importlib.import_module(f"vmemlab.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    with printable_output():
        args = parser.parse_args(argv)
    args.from_command_line = argv is None
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        if getattr(args._module, "FULL_SCREEN", False):
            return int(args._module.main(args) or 0)
        with printable_output():
            return int(args._module.main(args) or 0)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
