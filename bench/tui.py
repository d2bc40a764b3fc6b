"""TUI benchmark: first frame and key press -> repaint with a big region (default 4 TiB).

Runs the app headless (``App.run_test``) at a fixed terminal size. Per key, medians of:

- frame: key -> frame, what a user waits for: from posting the key event (as a terminal driver
  does) to the first frame the app writes after the key's action returned (Textual's own
  repaint of what changed, its frame timer included);
- repaint: the key's action run directly, then a synchronous layout and a *full* repaint of the
  screen (an upper bound: Textual normally repaints only what changed);
- pilot: ``Pilot.press`` + ``pause`` wall time, which includes the harness's idle waits (see the
  "floor" row, an unbound key);
- model: the same action timed alone on a twin session.

Nothing here is asserted: on a shared machine the numbers move with the load.
"""
from __future__ import annotations

import asyncio
import statistics
import time

from textual import events

from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario
from vmemlab.core.session import Session
from vmemlab.core.units import GiB, format_size

# key, what it does, the app action it runs, on the map widget?, the model action (None: UI only)
KEYS = (
    ("x", "floor: an unbound key", "", False, None),
    ("right", "select the next tile", "move(1, 0)", True, None),
    ("down", "select one row down", "move(0, 1)", True, None),
    ("plus", "grow by one memory block", "act('grow')", False, "grow"),
    ("space", "step: one driver request", "act('step')", False, "step"),
    ("u", "undo the last action", "undo", False, "undo"),
)


def scenario(region: int) -> Scenario:
    boot = max(1 * GiB, region // 32)
    config = MachineConfig(boot_memory=boot, seed=1, devices=(DeviceConfig(region_size=region),))
    return Scenario(f"{format_size(region)} region", "benchmark", config, [])


def _model_ms(region: int, name: str, presses: int) -> float:
    """The model's time for the action alone, on a twin session driven the same way."""
    s = Session(scenario(region))
    s.do("grow")
    times = []
    for _ in range(presses):
        if name == "step" and not s.machine.busy():
            s.do("grow")
        if name == "undo":
            s.do("grow")
        t = time.perf_counter()
        s.undo() if name == "undo" else s.apply(act.make(name))
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


async def _measure(region: int, size: tuple[int, int], presses: int) -> dict:
    from vmemlab.tui.app import VmemLabApp

    t0 = time.perf_counter()
    session = Session(scenario(region))
    t1, c1 = time.perf_counter(), time.process_time()
    app = VmemLabApp(session)
    out: dict = {"session_s": t1 - t0, "keys": []}
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        out["first_frame_s"] = time.perf_counter() - t1
        out["first_frame_cpu_s"] = time.process_time() - c1
        session.do("grow")
        app.refresh_views()
        await pilot.pause()
        region_map = app.query_one("#map")
        for key, what, app_action, on_map, action in KEYS:
            wall, paint, frame = [], [], []
            for _ in range(presses if app_action else 0):
                if key == "space" and not session.machine.busy():
                    session.do("grow")
                frame.append(await _key_to_frame(app, pilot, key))
            for _ in range(presses):
                if key == "space" and not session.machine.busy():
                    session.do("grow")
                t = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                wall.append(time.perf_counter() - t)
            for _ in range(presses if app_action else 0):
                if key == "space" and not session.machine.busy():
                    session.do("grow")
                if key == "u":
                    session.do("grow")
                t = time.perf_counter()
                await app.run_action(app_action, region_map if on_map else app)
                app.screen._refresh_layout(app.size)
                app.screen._compositor.render_update(full=True)
                paint.append(time.perf_counter() - t)
            out["keys"].append({"key": key, "what": what, "pilot_ms": statistics.median(wall) * 1000,
                                "frame_ms": statistics.median(frame) * 1000 if frame else 0.0,
                                "repaint_ms": statistics.median(paint) * 1000 if paint else 0.0,
                                "model_ms": _model_ms(region, action, presses) if action else 0.0})
        out["keys"].append({"key": "-", "what": "view only: redraw every panel", "pilot_ms": 0.0, "model_ms": 0.0,
                            "frame_ms": 0.0, "repaint_ms": _redraw_all_ms(app, presses)})
    return out


async def _key_to_frame(app, pilot, key: str) -> float:
    """Seconds from posting ``key`` to the first frame written after its action returned."""
    handled: list[float] = []
    frames: list[float] = []
    run_action, display = app.run_action, app._display

    async def timed_action(*args, **kw):
        result = await run_action(*args, **kw)
        handled.append(time.perf_counter())
        return result

    def timed_display(*args, **kw):
        if handled:
            frames.append(time.perf_counter())
        return display(*args, **kw)

    app.run_action, app._display = timed_action, timed_display
    try:
        start = time.perf_counter()
        app.post_message(events.Key(key, key if len(key) == 1 else (" " if key == "space" else None)))
        for _ in range(2000):
            if frames:
                break
            await asyncio.sleep(0.001)
    finally:
        del app.run_action, app._display
    await pilot.pause()
    return (frames[0] if frames else time.perf_counter()) - start


def _redraw_all_ms(app, presses: int) -> float:
    """Every panel rebuilt from the model (caches dropped), laid out and fully painted."""
    from vmemlab.tui.style import QuietStatic

    times = []
    for _ in range(presses):
        for widget in app.query(QuietStatic):
            widget._last = None
        region_map = app.query_one("#map")
        region_map._row_cache = {}
        region_map.cells = region_map.cells[:0]
        t = time.perf_counter()
        app.refresh_views()
        app.screen._refresh_layout(app.size)
        app.screen._compositor.render_update(full=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run(region: int, size: tuple[int, int] = (200, 60), presses: int = 15) -> dict:
    result = asyncio.run(_measure(region, size, presses))
    result.update(region=format_size(region), size=f"{size[0]}x{size[1]}", presses=presses)
    return result


def table(r: dict) -> str:
    lines = [f"vmemlab TUI benchmark: {r['region']} region, terminal {r['size']}, median of {r['presses']} presses",
             f"  session build (model)   {r['session_s'] * 1000:8.1f} ms",
             f"  first frame (app)       {r['first_frame_s'] * 1000:8.1f} ms wall, "
             f"{r['first_frame_cpu_s'] * 1000:.1f} ms CPU",
             "",
             f"  {'key':<7} {'what':<28} {'key->frame':>11} {'repaint':>10} {'model part':>11} {'pilot':>10}"]
    for k in r["keys"]:
        frame = f"{k['frame_ms']:8.1f} ms" if k["frame_ms"] else f"{'-':>11}"
        lines.append(f"  {k['key']:<7} {k['what']:<28} {frame} {k['repaint_ms']:7.1f} ms {k['model_ms']:8.1f} ms "
                     f"{k['pilot_ms']:7.1f} ms")
    return "\n".join(lines)
