"""The Panel server behind ``vmemlab serve``: one sandbox per tab, bounded, freed and only for its own names.

- Bokeh's periodic jobs run (``Server.start()``): a session whose tab was closed, or whose
  connection was lost, is destroyed ``session_timeout`` seconds later; its memory then goes back
  to the operating system (a garbage collection and glibc's ``malloc_trim``).
- At most ``max_sessions`` sandboxes live at once; a further tab gets a short "the class is
  full" page (HTTP 503) and no sandbox. The default comes from the memory available at start.
- Every request must name this server in its Host header (127.0.0.1, localhost or [::1] on
  loopback; the bound address, this machine's addresses and host names otherwise; plus the
  ``--allow-origin`` names), and a websocket's Origin must name it too: a page of another site
  whose name was re-pointed at this machine (DNS rebinding) gets HTTP 403, even when its Origin
  equals its Host (Tornado skips its own Origin check then).
"""
from __future__ import annotations

import ctypes
import gc
import html
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest, split_host_and_port
from tornado.routing import Matcher, Rule
from tornado.web import RequestHandler

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ALL_INTERFACES = ("0.0.0.0", "::", "")
SESSION_MEMORY = 150 << 20        # a tab on the heaviest shipped lesson: 139 MiB measured (4 TiB region, step 5)
APP_PATHS = ("/", "/autoload.js")  # the requests that create a session


class ServeError(Exception):
    """The server cannot start (address, port); the message is one line for the user."""


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local_address(address: str) -> bool:
    """Is ``address`` an IP address of this machine? (The kernel lets us bind only those.)"""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((str(ip), 0))
        return True
    except OSError:
        return False


@dataclass
class HostCheck:
    """The names this server answers to, from the address it listens on and --allow-origin."""

    address: str
    extra: list[str] = field(default_factory=list)
    names: set[str] = field(init=False)
    _local: dict[str, bool] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.names = {host_name(h) for h in self.extra}
        if is_loopback(self.address) or self.address in ALL_INTERFACES:
            self.names.update(LOOPBACK_NAMES)
        if self.address not in ALL_INTERFACES:
            self.names.add(host_name(self.address))
        else:
            self.names.update({socket.gethostname().lower(), socket.getfqdn().lower()})

    def allows(self, host: str) -> bool:
        """Is ``host`` (a Host header or an Origin's host, with or without a port) one of ours?"""
        name = host_name(host)
        if name in self.names:
            return True
        if self.address not in ALL_INTERFACES:
            return False
        if name not in self._local:            # any address of this machine, when bound to all of them
            self._local[name] = is_local_address(name)
        return self._local[name]


def host_name(host: str) -> str:
    """'Example.org:5006' -> 'example.org'; '[::1]:5006' -> '::1'."""
    host = host.strip().lower()
    name, _port = split_host_and_port(host)
    return name.strip("[]")


class _RequestMatcher(Matcher):
    def __init__(self, test: Callable[[HTTPServerRequest], bool]):
        self.test = test

    def match(self, request: HTTPServerRequest) -> dict | None:
        return {} if self.test(request) else None


class RefusedHandler(RequestHandler):
    """Answers every method with a status and a short page; nothing else runs."""

    def initialize(self, status: int, page: Callable[[], str], retry_after: int = 0) -> None:
        self.status, self.page, self.retry_after = status, page, retry_after

    def prepare(self) -> None:
        self.set_status(self.status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if self.retry_after:
            self.set_header("Retry-After", str(self.retry_after))
        self.finish(self.page())

    def log_exception(self, *args) -> None:        # a refused request is not a server error
        pass


def _page(title: str, text: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:40em;margin:4em auto'><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>")


def class_full_text(limits: "Limits") -> tuple[str, str]:
    return ("The class is full", f"This vmemlab server already runs {limits.max_sessions} sandboxes, one per open "
            "tab (vmemlab serve --max-sessions). Close a tab you no longer use, or wait: a closed tab frees its "
            f"place within {limits.session_timeout:.0f} seconds. Then reload this page.")


def class_full_page(limits: "Limits"):
    """The same message as a page of its own, for a tab that raced past the 503 check."""
    import panel as pn
    title, text = class_full_text(limits)
    return pn.pane.HTML(f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>")


def default_max_sessions() -> int:
    """Sandboxes that fit into half the memory available now, each as large as the heaviest
    shipped lesson (``SESSION_MEMORY``); at least 4."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return 20
    return max(4, available // 2 // SESSION_MEMORY)


@dataclass
class Limits:
    """How many sandboxes may live at once, and how long a closed tab keeps its sandbox."""

    max_sessions: int
    session_timeout: float        # seconds


def guard(server, hosts: HostCheck, limits: Limits, public_url: str) -> None:
    """Put the Host/Origin check and the session limit in front of every route of ``server``
    (a Panel/Bokeh server built with ``start=False``)."""
    tornado_app = server._tornado         # Panel does the same; Bokeh has no public accessor

    def bad_host(request: HTTPServerRequest) -> bool:
        if not hosts.allows(request.host):
            return True
        origin = request.headers.get("Origin")
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        return bool(origin and upgrade and not hosts.allows(urlsplit(origin).netloc or origin))

    def full(request: HTTPServerRequest) -> bool:
        return request.method == "GET" and request.path in APP_PATHS and live_sessions(server) >= limits.max_sessions

    refused_host = _page("Not this server", "This vmemlab server does not answer to this host name. "
                         f"Open it as {public_url}, or start it with --allow-origin NAME.")

    def class_full() -> str:
        return _page(*class_full_text(limits))

    tornado_app.default_router.rules[:0] = [
        Rule(_RequestMatcher(bad_host), RefusedHandler, {"status": 403, "page": lambda: refused_host}),
        Rule(_RequestMatcher(full), RefusedHandler,
             {"status": 503, "page": class_full, "retry_after": max(1, int(limits.session_timeout))}),
    ]


def live_sessions(server) -> int:
    return len(server.get_sessions())


def release_memory() -> None:
    """After sessions were destroyed: collect their cycles and hand freed heap pages back to
    the OS (without malloc_trim glibc keeps them and RSS never drops). ``vmemlab serve`` runs
    with PYTHONMALLOC=malloc so that Python's small objects live in glibc's heap too: Python's
    own allocator keeps an arena as long as one object in it lives, and a destroyed page
    leaves a few in most of them."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class MemoryRelease:
    """``release_memory`` a second after the last of a burst of destroyed sessions, and once more
    ``FOLLOW_UP`` seconds later: a destroyed page's last objects (its websocket connection, Panel's
    per-session state) become garbage only after Bokeh's and Tornado's own deferred callbacks ran,
    and memory freed after a trim stays in the process (measured: 100 closed tabs left RSS at
    153 MiB after one early trim, 102 MiB after a later one)."""

    io_loop: object
    handles: list = field(default_factory=list)

    QUIET = 1.0
    FOLLOW_UP = 10.0

    def session_destroyed(self, session_context) -> None:
        for handle in self.handles:
            self.io_loop.remove_timeout(handle)
        self.handles = [self.io_loop.call_later(delay, release_memory) for delay in (self.QUIET, self.FOLLOW_UP)]


def bokeh_options(limits: Limits) -> dict:
    """Bokeh's cleanup of unused sessions, at the pace of ``session_timeout``."""
    lifetime = max(1, int(limits.session_timeout * 1000))
    return {"unused_session_lifetime_milliseconds": lifetime,
            "check_unused_sessions_milliseconds": max(500, min(lifetime // 2, 17_000))}
