"""Random keys never crash the app and never lose the timeline.

VMEMLAB_KEYS keys per seed (600 by default, 2000 for the full run), drawn from every key the app
binds, the map's keys, the command palette and what dialogs take (Tab, Enter, Esc, digits, size
units, arrows); now and then a burst of keys posted back to back, as a terminal delivers fast
typing. After every key:

- the app is running (or it quit after asking, and saved the session: the test starts it again,
  and the next start's offer to reopen is answered by the random keys too);
- the session equals an independent replay of its timeline (tests/helpers.py ``fingerprint``),
  a settle still running included as "settled for the steps done so far";
- a session that was replaced (load, reopen) was saved first, with its whole timeline.
"""
from __future__ import annotations

import asyncio
import json
import os
import random

import pytest
from textual import events

from helpers import fingerprint
from tui_helpers import make_app
from vmemlab.core.machine import Machine
from vmemlab.core.sandbox import Change, Sandbox
from vmemlab.core.scenario import builtin, default
from vmemlab.core.session import Session
from vmemlab.tui import commands, recovery

KEYS_PER_SEED = int(os.environ.get("VMEMLAB_KEYS", 600))   # VMEMLAB_KEYS=2000 for the full run
SNAPSHOT_EVERY = 20

APP_KEYS = sorted({k for c in commands.all_commands() if c.keys for k in c.keys.split(",")} - {"ctrl+s"})
MAP_KEYS = ["left", "right", "up", "down", "h", "j", "k", "l", "g", "G", "home", "end"]
DIALOG_KEYS = ["tab", "shift+tab", "enter", "escape", "backspace", "up", "down", "space"] + \
    list("0123456789") + ["M", "G", "T", "K", "x", "full_stop", "minus", "y", "n"]
CHARS = {"space": " ", "full_stop": ".", "minus": "-", "enter": "\r", "tab": "\t", "escape": "\x1b",
         "backspace": "\x7f"}


def draw(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(APP_KEYS)
    if roll < 0.6:
        return rng.choice(MAP_KEYS)
    if roll < 0.62:
        return "ctrl+p"
    return rng.choice(DIALOG_KEYS)


class Replay:
    """An independent replay of a timeline, kept up to date incrementally: its own machine
    snapshots every SNAPSHOT_EVERY changes (never the app's), changes applied from the nearest."""

    def __init__(self, session: Session):
        self.sandbox = Sandbox(session.sandbox.config, snapshot_policy="never")
        self.changes: list[Change] = []
        self.snapshots: dict[int, Machine] = {0: self.sandbox.machine.snapshot()}

    def fingerprint(self, changes: list[Change]) -> str:
        common = 0
        while common < min(len(changes), len(self.changes)) and changes[common] == self.changes[common]:
            common += 1
        if common < len(self.changes):
            base = max(k for k in self.snapshots if k <= common)
            for k in [k for k in self.snapshots if k > base]:
                del self.snapshots[k]
            sb = self.sandbox
            sb.machine, sb.entries, sb.events = self.snapshots[base].snapshot(), [], []
            self.changes = self.changes[:base]
        for change in changes[len(self.changes):]:
            self.sandbox.apply_change(change)
            self.sandbox.events.clear()
            self.changes.append(change)
            if len(self.changes) % SNAPSHOT_EVERY == 0:
                self.snapshots[len(self.changes)] = self.sandbox.machine.snapshot()
        return fingerprint(self.sandbox.machine)


def timeline(session: Session) -> list[Change]:
    """The changes that make the session's state: the timeline, plus a running settle as far as
    it got."""
    changes = session.sandbox.changes()
    work = session.work
    if work is not None:
        c = work.change
        changes.append(Change(c.action, c.settle, work.steps if work.settles else c.max_steps, c.lesson_step))
    return changes


def whole(session: Session) -> list[dict]:
    """Everything a saved session must hold: the timeline and the redo list."""
    return [c.to_dict() for c in timeline(session)] + [c.to_dict() for c in session.sandbox.redo_stack]


def newest_save(state) -> dict:
    files = recovery.saved_sessions(state, limit=1)
    assert files, "a session with a timeline was replaced or closed without being saved"
    data = json.loads(files[0].read_text())
    return data


async def drive(seed: int, scenario, tmp_path, log=None) -> None:
    """Run the random keys; ``log(text)`` (for debugging a seed) hears every key and the screens."""
    rng = random.Random(seed)
    state = tmp_path / "state"
    app = make_app(tmp_path, scenario, play_interval=0.05)
    keys = 0
    history: list[str] = []
    while keys < KEYS_PER_SEED:
        replay = Replay(app.session)
        try:
            async with app.run_test(size=rng.choice([(80, 24), (120, 40)])) as pilot:
                while keys < KEYS_PER_SEED:
                    session, before = app.session, whole(app.session)
                    if rng.random() < 0.03:                       # a burst, as a terminal delivers it
                        burst = [draw(rng) for _ in range(rng.randint(2, 4))]
                        history.append("burst " + " ".join(burst))
                        for key in burst:
                            app.post_message(events.Key(key, CHARS.get(key, key if len(key) == 1 else None)))
                            keys += 1
                        await pilot.pause(0.05)
                    else:
                        key = draw(rng)
                        history.append(f"{type(app.screen).__name__}: {key}")
                        await pilot.press(key)
                        keys += 1
                    if log:
                        log(f"{keys} {history[-1]} -> {[type(s).__name__ for s in app.screen_stack]}")
                    if not app.is_running or app._exit:
                        break
                    if app.session is not session:
                        if before:
                            saved = newest_save(state)
                            assert saved["actions"] + saved["redo"] == before, f"seed {seed}: load lost work"
                        replay = Replay(app.session)
                    assert replay.fingerprint(timeline(app.session)) == fingerprint(app.session.machine), \
                        f"seed {seed}, key {keys}: the state is not a replay of the timeline; last keys {history[-12:]}"
        except Exception as e:       # noqa: BLE001 - report the seed and the keys that led to the crash
            raise AssertionError(f"seed {seed}: the app crashed after {keys} keys: {e!r}; "
                                 f"last keys {history[-12:]}") from e
        if keys >= KEYS_PER_SEED:
            break
        # the app quit (after asking): the session must be in the state directory
        if app.saved_to is not None:
            assert newest_save(state)["actions"] + newest_save(state)["redo"] == whole(app.session)
        app = make_app(tmp_path, scenario, play_interval=0.05)


@pytest.mark.parametrize("seed,lesson", [(1, "default.toml"), (2, "05_numa_nodes.toml"), (3, "09_nack_race.toml")])
def test_random_keys_never_crash_and_never_lose_the_timeline(seed, lesson, tmp_path):
    asyncio.run(drive(seed, builtin(lesson) if lesson != "default.toml" else default(), tmp_path))
