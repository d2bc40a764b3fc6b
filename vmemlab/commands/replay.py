"""``vmemlab replay OUT.json``: replay a trace written by ``vmemlab run --trace`` and prove it identical."""
from __future__ import annotations

HELP = "Replay a trace from 'vmemlab run --trace' and check that it reproduces exactly"

import argparse
import sys

from vmemlab.core.trace_io import TraceError, load_trace, replay
from vmemlab.core.units import format_size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", metavar="TRACE.json", help="a trace written by vmemlab run FILE --trace TRACE.json")


def main(args: argparse.Namespace) -> int:
    try:
        data = load_trace(args.trace)
        result = replay(data)
    except TraceError as e:
        print(f"vmemlab: {e}", file=sys.stderr)
        return 2
    m = result.sandbox.machine.metrics()
    title = f" ({data['title']})" if data.get("title") else ""
    print(f"replayed {result.actions} actions of {args.trace}{title}")
    print(f"final state: requested {format_size(m.requested)}, plugged {format_size(m.plugged)}, "
          f"MemTotal {format_size(m.mem_total)}, t={m.time:.3f}s")
    if result.identical:
        print(f"identical: the metrics after every action and all {result.events} events match "
              f"(events sha256 {result.digest[:16]})")
        return 0
    print(f"DIFFERENT: {result.difference}")
    return 1
