"""Static-site benchmark: cold load to interactive, with its breakdown, and action -> updated view.

Runs the built site in Debian's chromium, offline (requests not to 127.0.0.1 are aborted), on a
lesson with a 64 GiB virtio-mem region. Every run is a fresh browser (a cold cache). Numbers are
printed, never asserted: they depend on the machine and its load.
"""
from __future__ import annotations

import json
import statistics
import re
from pathlib import Path

from vmemlab.webstatic import browser

LESSON_64G = "16_balloon_boots_at_max.toml"   # one virtio-mem device with a 64 GiB region
# Quiet time after the last patch from the worker before a view counts as updated.
QUIET_MS = 500
READY_TIMEOUT = 300_000

# (label, what to do on the page) at the 64 GiB region; each ends in a model change and a redraw.
ACTIONS = (
    ("+1 block (grow 128 MiB)", lambda p: p.locator(".vm-do-grow button").click()),
    ("request 8G (plug 7 GiB)", lambda p: (p.locator(".vm-requested-input input").fill("8G"),
                                           p.locator(".vm-do-request button").click())),
    ("fragment 1%", lambda p: (p.locator(".bk-tab").filter(has_text=re.compile("^Guest$")).click(),
                               p.locator(".vm-do-fragment button").click())),
    ("request 1G (unplug 7 GiB)", lambda p: (p.locator(".bk-tab").filter(has_text=re.compile("^Host$")).click(),
                                             p.locator(".vm-requested-input input").fill("1G"),
                                             p.locator(".vm-do-request button").click())),
)

# The clock starts when the action's own button gets the click (seen in the capture phase, through
# the shadow roots), so typing a size or switching a tab before it is not counted.
START = """() => {
  window.__bench = {t0: null, n: vmemlabSite.patches};
  if (!window.__benchListening) {
    window.__benchListening = true;
    document.addEventListener('click', (e) => {
      if (e.composedPath().some((el) => el.classList && [...el.classList].some((c) => c.startsWith('vm-do-'))))
        window.__bench.t0 = Date.now() - performance.timeOrigin;
    }, true);
  }
}"""
SETTLED = f"""() => {{ const s = vmemlabSite, now = Date.now() - performance.timeOrigin;
    return __bench.t0 !== null && s.patches > __bench.n && !s.worker.busy && now - s.lastPatchAt > {QUIET_MS}; }}"""


def action_ms(page, do) -> float:
    """The action button's click to the last patch of the resulting update applied in the page, in ms."""
    page.evaluate(START)
    do(page)
    page.wait_for_function(SETTLED, timeout=120_000)
    return page.evaluate("vmemlabSite.lastPatchAt - __bench.t0")


def one_run(site: Path, url: str) -> dict:
    manifest = json.loads((site / "site.json").read_text())["files"]
    with browser.chromium() as b:
        fetched: list[str] = []
        b.context.on("requestfinished", lambda r: fetched.append(r.url.split("?")[0].removeprefix(url)))
        page = b.new_page()
        page.goto(f"{url}index.html?scenario={LESSON_64G}")
        page.wait_for_function("document.body.dataset.site", timeout=READY_TIMEOUT)
        if page.evaluate("vmemlabSite.state") != "ready":
            raise RuntimeError(f"the site did not start: {page.evaluate('vmemlabSite.error')}")
        m = page.evaluate("vmemlabSite.marks")
        row = {
            "download_mb": sum(manifest.get(f, {"bytes": 0})["bytes"] for f in set(fetched)) / 1e6,
            "page_s": m["runtime"] / 1e3,
            "pyodide_s": (m["runtime-done"] - m["runtime"]) / 1e3,
            "packages_s": (m["packages-done"] - m["runtime-done"]) / 1e3,
            "app_s": (m["model-done"] - m["packages-done"]) / 1e3,
            "draw_s": (m["view-done"] - m["view"]) / 1e3,
            "interactive_s": m["view-done"] / 1e3,
        }
        for label, do in ACTIONS:
            row[label] = action_ms(page, do)
        if b.blocked:
            raise RuntimeError(f"requests left 127.0.0.1: {b.blocked}")
    return row


def run(site: Path, runs: int = 1) -> list[dict]:
    with browser.serve(site) as url:
        return [one_run(site, url) for _ in range(runs)]


def table(rows: list[dict]) -> str:
    """Medians over runs: the load breakdown in seconds, then each action in ms."""
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    lines = [f"static site, cold load ({len(rows)} run(s), median), lesson {LESSON_64G}:",
             f"  {'downloaded':28s} {med['download_mb']:8.1f} MB"]
    for key, label in (("page_s", "worker started"), ("pyodide_s", "Pyodide runtime start"),
                       ("packages_s", "packages fetch + install"), ("app_s", "import + build the app"),
                       ("draw_s", "draw the page"), ("interactive_s", "total: interactive")):
        lines.append(f"  {label:28s} {med[key]:8.1f} s")
    lines.append("action -> updated view at the 64 GiB region:")
    lines += [f"  {label:28s} {med[label]:8.0f} ms" for label, _ in ACTIONS]
    return "\n".join(lines)
