"""Web benchmark: first paint, action -> updated view, bytes sent per update (not a test).

Python part: the page's objects in-process (create_app, then the model's time and the views'
time for each action). Browser part: `vmemlab serve` on 127.0.0.1 driven by Debian's chromium
through Playwright, offline; the websocket frames the server sends per action are summed.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario
from vmemlab.core.session import Session
from vmemlab.core.units import GiB, TiB, format_size

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ACTIONS = ("grow", "shrink")       # one memory block up, one down: never the whole region
SCENARIO_4T = """title = "4 TiB region"
[machine]
boot_memory = "128G"
[[device]]
region_size = "4T"
"""
# The region map's data as drawn (a plot rebuilt for another scenario leaves its old models in
# BokehJS for a while, so the live source is the one a plot view draws, not one found by name).
LIVE_MAP = """(() => { for (const v of Bokeh.index.all_views()) if (v.model.type == 'Plot')
    for (const r of v.model.renderers) if (r.data_source && r.data_source.name == 'vm-region-image')
      return r.data_source; return null; })()"""
MAP_VERSION = f"""() => {{ const m = {LIVE_MAP}; let s = 0; for (const v of m.data.image[0]) s += v; return s; }}"""


def python_times(region: int, repeats: int) -> dict:
    """create_app time, and per action the model's time and the views' time (medians, ms)."""
    from vmemlab.web.app import App
    from vmemlab.web.state import SandboxState
    cfg = MachineConfig(boot_memory=max(1 * GiB, region // 32), devices=(DeviceConfig(region_size=region),))
    t = time.perf_counter()
    state = SandboxState(Session(Scenario("bench", "", cfg, [])))
    App(state).__panel__().get_root()
    build = time.perf_counter() - t
    state.act("request", size=format_size(max(region // 512, 1 * GiB)))
    model, views = [], []
    for k in range(repeats):
        t = time.perf_counter()
        events = state.sandbox.do(ACTIONS[k % 2]) + state.sandbox.do("settle")
        t1 = time.perf_counter()
        state.last_events = events
        state.version += 1                                 # what SandboxState.apply does after the model
        t2 = time.perf_counter()
        model.append(t1 - t)
        views.append(t2 - t1)
    med_model, med_views = statistics.median(model) * 1e3, statistics.median(views) * 1e3
    return {"region": region, "build_s": build, "model_ms": med_model, "views_ms": med_views,
            "action_ms": med_model + med_views}


def browser_times(region: int, repeats: int) -> dict:
    """First paint and action -> updated map in chromium, with the bytes the server sent."""
    from playwright.sync_api import sync_playwright

    from vmemlab.web.local_server import served

    with tempfile.TemporaryDirectory() as tmp:
        args = ()
        if region != 4 * GiB:
            path = Path(tmp) / "region.toml"
            path.write_text(SCENARIO_4T.replace('"4T"', f'"{format_size(region)}"'), encoding="utf-8")
            args = (str(path),)
        with served(*args) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
            blocked: list[str] = []
            ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1"))
                      else (blocked.append(r.request.url), r.abort()))
            page = ctx.new_page()
            frames: list[int] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
            t = time.perf_counter()
            page.goto(base)
            page.wait_for_function(f"() => window.Bokeh && Bokeh.documents.length && {LIVE_MAP}", timeout=60000)
            page.wait_for_selector(".bk-Canvas", timeout=60000)
            first_paint = time.perf_counter() - t
            page.locator(".vm-requested-input input").fill(format_size(max(region // 512, 1 * GiB)))
            page.locator(".vm-do-request button").click()
            page.wait_for_timeout(3000)
            latencies, sizes = [], []
            for k in range(repeats):
                before = page.evaluate(MAP_VERSION)
                page.wait_for_timeout(300)
                frames.clear()
                t = time.perf_counter()
                page.locator(f".vm-do-{ACTIONS[k % 2]} button").click()
                page.wait_for_function(f"() => ({MAP_VERSION})() !== {before}", timeout=60000)
                latencies.append(time.perf_counter() - t)
                page.wait_for_timeout(700)          # let the other views' messages arrive too
                sizes.append(sum(frames))
            browser.close()
    return {"region": region, "first_paint_s": first_paint, "latency_ms": statistics.median(latencies) * 1e3,
            "bytes_per_update": statistics.median(sizes), "max_bytes": max(sizes), "blocked": len(blocked)}


def table(py_rows: list[dict], br_rows: list[dict]) -> str:
    head = ("region", "build page s", "model ms", "views ms", "action total ms", "first paint s",
            "click -> map ms", "KB sent/update (median)", "KB max", "external requests")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    by_region = {r["region"]: r for r in br_rows}
    for r in py_rows:
        b = by_region.get(r["region"], {})
        lines.append(" | ".join((
            format_size(r["region"]), f"{r['build_s']:.2f}", f"{r['model_ms']:.0f}", f"{r['views_ms']:.0f}",
            f"{r['action_ms']:.0f}", f"{b['first_paint_s']:.2f}" if b else "-",
            f"{b['latency_ms']:.0f}" if b else "-", f"{b['bytes_per_update'] / 1024:.1f}" if b else "-",
            f"{b['max_bytes'] / 1024:.1f}" if b else "-", str(b["blocked"]) if b else "-")))
    return "\n".join(lines)


def run(regions: tuple[int, ...] = (4 * GiB, 4 * TiB), repeats: int = 7, browser: bool = True) -> str:
    py_rows = [python_times(r, repeats) for r in regions]
    br_rows = [browser_times(r, repeats) for r in regions] if browser else []
    return table(py_rows, br_rows)
