"""Helpers for the web tests: `vmemlab serve` on 127.0.0.1 and an offline chromium."""
from __future__ import annotations

from pathlib import Path

from vmemlab.web.local_server import served  # noqa: F401  (re-exported for the tests)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


class OfflinePage:
    """A chromium page that aborts every request not to 127.0.0.1 and records console errors."""

    def __init__(self, browser, width: int = 1500, height: int = 1100):
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def shot(page, name: str) -> Path:
    """Save a screenshot under /tmp/vmemlab-web-shots (never in the repo)."""
    out = Path("/tmp/vmemlab-web-shots")
    out.mkdir(exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
