"""Serve a built site on 127.0.0.1 and open it in Debian's chromium, with the network cut off.

Shared by the browser tests and ``vmemlab bench-site``. Every request not to 127.0.0.1 is aborted
and recorded in ``Browser.blocked``, so a caller can prove the site made none.
"""
from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Browser:
    """A chromium context whose requests leave 127.0.0.1 never; what was tried is in ``blocked``."""

    context: object
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)   # local requests that got no 2xx/3xx answer

    def new_page(self):
        page = self.context.new_page()
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        return page


@contextmanager
def chromium(viewport: dict | None = None) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport or {"width": 1600, "height": 1000})
        result = Browser(context)

        def route(r):
            if r.request.url.startswith("http://127.0.0.1:"):
                r.continue_()
            else:
                result.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        try:
            yield result
        finally:
            browser.close()
