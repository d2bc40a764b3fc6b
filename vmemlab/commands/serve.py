"""``vmemlab serve``: the browser sandbox on a local Panel server, one sandbox per browser tab."""
from __future__ import annotations

HELP = "Serve the browser sandbox (Panel/Bokeh) on 127.0.0.1; each browser tab gets its own VM"

import argparse
import sys

LOOPBACK = ("127.0.0.1", "localhost")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="scenario TOML file to open (default: the built-in tour)")
    p.add_argument("--port", type=int, default=5006, help="TCP port (default 5006; 0 picks a free one)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; e.g. 0.0.0.0 to serve a classroom)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="HOST[:PORT]",
                   help="extra host allowed to open the websocket (repeatable); binding a non-loopback "
                        "address without it allows any host")
    p.add_argument("--show", action="store_true", help="open the page in a browser")


def origins(address: str, port: int, extra: list[str]) -> list[str]:
    """Hosts whose pages may open the websocket: this host, plus the given ones."""
    if extra:
        return [f"{a}:{port}" for a in LOOPBACK] + extra
    if address in LOOPBACK:
        return [f"{a}:{port}" for a in LOOPBACK]
    return ["*"]


def free_port(address: str) -> int:
    """A port the OS says is free now (for --port 0, so the websocket origins can name it)."""
    import socket
    with socket.socket() as s:
        s.bind((address if address not in ("0.0.0.0", "") else "", 0))
        return s.getsockname()[1]


def main(args: argparse.Namespace) -> int:
    import panel as pn

    from vmemlab.commands.run import load_scenario
    from vmemlab.web.app import TITLE, create_app

    scenario = load_scenario(args) if args.file else None
    name = args.file if args.file else None

    def page():
        return create_app(scenario, query=dict(pn.state.session_args), name=name)

    port = args.port or free_port(args.address)
    server = pn.serve({"/": page}, port=port, address=args.address, show=args.show, start=False,
                      title=TITLE, liveness=True, websocket_origin=origins(args.address, port, args.allow_origin))
    host = "127.0.0.1" if args.address in ("0.0.0.0", "::") else args.address
    print(f"vmemlab: serving on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    if args.address not in LOOPBACK:
        print(f"vmemlab: bound to {args.address}: anyone who can reach this machine can open the page",
              file=sys.stderr, flush=True)
    server.io_loop.start()
    return 0
