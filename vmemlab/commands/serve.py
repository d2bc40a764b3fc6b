"""``vmemlab serve``: the browser sandbox on a local Panel server, one sandbox per browser tab."""
from __future__ import annotations

HELP = "Serve the browser sandbox (Panel/Bokeh) on 127.0.0.1; each browser tab gets its own VM"

import argparse
import dataclasses
import errno
import os
import socket
import sys
from pathlib import Path

from vmemlab.arguments import count, port, whole


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="scenario TOML file to open (default: the built-in tour)")
    p.add_argument("--port", type=port, default=5006, help="TCP port (default 5006; 0 picks a free one)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; e.g. 0.0.0.0 to serve a classroom)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="HOST[:PORT]",
                   help="another name this server is reached by, e.g. a DNS alias or a proxy (repeatable); "
                        "only pages from these names and the server's own may use it")
    p.add_argument("--max-sessions", type=count(1, 100_000), metavar="N",
                   help="at most N sandboxes (open tabs) at once; more get a 'the class is full' page "
                        "(default: what half the available memory holds at 150 MiB per tab, the heaviest shipped lesson)")
    p.add_argument("--session-timeout", type=lambda t: whole(t, 1, 86400, "1 to 86400 seconds"), default=60,
                   metavar="SECONDS", help="free a tab's sandbox this long after the tab was closed (default 60)")
    p.add_argument("--show", action="store_true", help="open the page in a browser")


def _fail(message: str) -> SystemExit:
    print(f"vmemlab serve: {message}", file=sys.stderr)
    return SystemExit(2)


def check_address(address: str) -> None:
    """The address must be one of this machine's (or a name for one); exits 2 naming it."""
    try:
        socket.getaddrinfo(address or None, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as e:
        raise _fail(f"--address: {address!r} is not an address of this machine ({getattr(e, 'strerror', e) or e}); "
                    "allowed: 127.0.0.1 (default), ::1, 0.0.0.0 for every interface, or one of its addresses") from None


def free_port(address: str) -> int:
    """A port the OS says is free now (for --port 0, so the page can name it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((address if address not in ("0.0.0.0", "") else "", 0))
        return s.getsockname()[1]


def restart_with_system_malloc(args: argparse.Namespace) -> None:
    """Run the server with PYTHONMALLOC=malloc (restarting this process once, same pid), so that
    the memory of closed tabs goes back to the OS; see vmemlab.web.server.release_memory. An
    explicit PYTHONMALLOC is kept, and so is a call from Python (tests, vmemlab.cli.main(argv))."""
    if getattr(args, "from_command_line", False) and "PYTHONMALLOC" not in os.environ:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "vmemlab", *sys.argv[1:]],
                  dict(os.environ, PYTHONMALLOC="malloc"))


def main(args: argparse.Namespace) -> int:
    from vmemlab.commands.run import load_scenario

    restart_with_system_malloc(args)
    scenario = name = None
    if args.file:      # clients see the file's name, never where it lives on the server
        name = Path(args.file).name
        scenario = dataclasses.replace(load_scenario(args), source=name)
    check_address(args.address)

    import panel as pn

    from vmemlab.web import server as web
    from vmemlab.web.app import TITLE, create_app

    limits = web.Limits(args.max_sessions or web.default_max_sessions(), args.session_timeout)
    hosts = web.HostCheck(args.address, args.allow_origin)

    def page():
        if web.live_sessions(server) >= limits.max_sessions:     # tabs that raced past the 503 page
            return web.class_full_page(limits)
        pn.state.curdoc.on_session_destroyed(release.session_destroyed)
        return create_app(scenario, query=dict(pn.state.session_args), name=name)

    try:
        chosen = args.port or free_port(args.address)
        server = pn.serve({"/": page}, port=chosen, address=args.address, show=args.show, start=False,
                          title=TITLE, liveness=True, location=False,
                          # Bokeh's own list (it cannot parse IPv6); web.guard checks every name first
                          websocket_origin=[f"{n}:{chosen}" for n in sorted(hosts.names) if ":" not in n],
                          **web.bokeh_options(limits))
    except OSError as e:
        hint = {errno.EADDRINUSE: "; pick another with --port, or --port 0 for a free one",
                errno.EADDRNOTAVAIL: "; it is not an address of this machine"}.get(e.errno, "")
        raise _fail(f"cannot listen on {args.address} port {args.port}: {e.strerror or e}{hint}") from None
    host = "127.0.0.1" if args.address in ("0.0.0.0", "") else "[::1]" if args.address == "::" \
        else f"[{args.address}]" if ":" in args.address else args.address
    url = f"http://{host}:{chosen}/"
    web.guard(server, hosts, limits, url)
    release = web.MemoryRelease(server.io_loop)
    print(f"vmemlab: serving on {url} (Ctrl-C to stop); at most {limits.max_sessions} tabs at once", flush=True)
    if not web.is_loopback(args.address):
        print(f"vmemlab: bound to {args.address}: anyone who can reach this machine can open the page",
              file=sys.stderr, flush=True)
    server.start()
    server.io_loop.start()
    return 0
