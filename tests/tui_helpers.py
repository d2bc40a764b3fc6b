"""Helpers for the TUI tests: build the app on a small scenario and read the screen as text."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from rich.console import Console

from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.scenario import Scenario, default
from vmemlab.core.session import Session
from vmemlab.core.units import GiB
from vmemlab.tui.app import VmemLabApp

SIZE = (120, 36)


def make_app(tmp_path=None, scenario: Scenario | None = None, **kw) -> VmemLabApp:
    """The app on ``scenario`` (the tour); sessions are saved under ``tmp_path`` (or a fresh
    temporary directory), never in the user's state directory."""
    if "state_dir" not in kw:
        kw["state_dir"] = (tmp_path / "state") if tmp_path is not None else Path(tempfile.mkdtemp(prefix="vmemlab-"))
    return VmemLabApp(Session(scenario or default()), export_dir=tmp_path, **kw)


def two_devices() -> Scenario:
    config = MachineConfig(boot_memory=1 * GiB, devices=(DeviceConfig("vmem0", region_size=4 * GiB),
                                                           DeviceConfig("vmem1", region_size=2 * GiB)))
    return Scenario("two devices", "", config, [])


def screen_text(app) -> str:
    """The whole screen (including modals) as plain text, as the user sees it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


async def wait_for(pilot, predicate, tries: int = 200) -> None:
    """Let the app run until ``predicate()`` holds (no timing assertion: only an upper bound)."""
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.02)
    assert predicate(), "condition never became true"


async def burst(pilot, *keys: str) -> None:
    """Post key events back to back, as a terminal does when the user types fast (``Pilot.press``
    waits for the app between keys and hides races), then let the app process them."""
    from textual import events

    chars = {"enter": "\r", "tab": "\t", "space": " ", "escape": "\x1b"}
    for key in keys:
        char = chars.get(key, key if len(key) == 1 else None)
        pilot.app.post_message(events.Key(key, char))
    await pilot.pause(0.2)


def replayed(sandbox: Sandbox) -> Sandbox:
    """A fresh sandbox with ``sandbox``'s timeline applied from boot (no snapshots)."""
    fresh = Sandbox(sandbox.config, snapshot_policy="never")
    for change in sandbox.changes():
        fresh.apply_change(change)
    return fresh


def flat_text(app) -> str:
    """The screen's words in reading order, borders dropped: for phrases a dialog wraps."""
    return " ".join(screen_text(app).replace("│", " ").split())
