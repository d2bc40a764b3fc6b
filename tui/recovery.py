"""Nothing the user built is lost: saved sessions, the offer to reopen one, files that never
overwrite each other.

A saved session is the common trace (``core.trace_io``, so ``vmemlab replay FILE`` proves it)
plus the redo list. The app saves one on quit, before loading another scenario over it, and on
a crash; quit and crash also leave a pointer (``reopen.json``) so that the next start offers to
reopen it. Declining the offer keeps the file.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from vmemlab.core import trace_io
from vmemlab.core.actions import ActionError
from vmemlab.core.scenario import Scenario, ScenarioError, builtin, lesson_files, load
from vmemlab.core.session import Session
from vmemlab.core.trace_io import TraceError

STATE_ENV = "VMEMLAB_STATE_DIR"
POINTER = "reopen.json"
SAVED_GLOB = "session-*.json"


def state_dir() -> Path:
    """Where sessions are saved: $VMEMLAB_STATE_DIR, else $XDG_STATE_HOME/vmemlab, else
    ~/.local/state/vmemlab."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "vmemlab"


def unique_path(directory: Path, stem: str, suffix: str) -> Path:
    """``directory/stem+suffix``, or ``stem-2``, ``stem-3``... when that name is taken."""
    path = directory / f"{stem}{suffix}"
    n = 2
    while path.exists():
        path = directory / f"{stem}-{n}{suffix}"
        n += 1
    return path


def write_new(directory: Path, stem: str, suffix: str, text: str) -> Path:
    """Write ``text`` to a file that did not exist before (exclusive create, never overwrite)."""
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        path = unique_path(directory, stem, suffix)
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
            return path
        except FileExistsError:
            continue                         # taken between the check and the open: next name


def has_work(session: Session) -> bool:
    """Is there anything to lose: applied changes, changes to redo, or a settle in progress."""
    sb = session.sandbox
    return bool(sb.position or sb.redo_stack or sb.work is not None)


def session_data(session: Session, reason: str) -> dict:
    """The session's trace (a pending settle is recorded as far as it got) plus its redo list."""
    data = trace_io.session_trace(session)
    data["redo"] = [c.to_dict() for c in session.sandbox.redo_stack]
    data["saved"] = {"reason": reason, "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    return data


def save(session: Session, directory: Path, reason: str) -> Path | None:
    """Save the session (None when there is nothing to lose); ``quit`` and ``crash`` also ask
    the next start to offer it back."""
    if not has_work(session):
        return None
    data = session_data(session, reason)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = write_new(directory, f"session-{stamp}", ".json", json.dumps(data, indent=1, default=int) + "\n")
    if reason in ("quit", "crash"):
        pointer = {"path": str(path), "reason": reason, "title": data["title"],
                   "actions": len(data["actions"]) + len(data["redo"]),
                   "at": data["saved"]["at"]}
        (directory / POINTER).write_text(json.dumps(pointer) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Offer:
    """A saved session the next start offers to reopen."""

    path: Path
    reason: str
    title: str
    actions: int
    at: str


def pending_offer(directory: Path) -> Offer | None:
    """The session to offer at start, if the last run left one (and its file is still there)."""
    try:
        raw = json.loads((directory / POINTER).read_text(encoding="utf-8"))
        offer = Offer(Path(raw["path"]), str(raw["reason"]), str(raw["title"]), int(raw["actions"]), str(raw["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return offer if offer.path.is_file() else None


def forget_offer(directory: Path) -> None:
    """The offer was answered: do not ask again (the saved file stays)."""
    try:
        (directory / POINTER).unlink()
    except FileNotFoundError:
        pass


def saved_sessions(directory: Path, limit: int = 5) -> list[Path]:
    """The newest saved sessions first."""
    try:
        files = sorted(directory.glob(SAVED_GLOB), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    return files[:limit]


def _scenario(data: dict, path: Path) -> Scenario:
    """The lesson the trace was recorded on (its steps and narration), with the trace's config;
    a plain sandbox when the lesson file cannot be found any more."""
    config = trace_io.config_from_dict(data["config"])
    source = str(data.get("source", ""))
    try:
        if source in ["default.toml"] + lesson_files():
            return replace(builtin(source), config=config)
        if source and Path(source).is_file():
            return replace(load(source), config=config)
    except ScenarioError:
        pass
    title = str(data.get("title") or "reopened session")
    return Scenario(title, f"Reopened from {path}. Its lesson ({source or 'unknown'}) could not be read, so "
                    "the lesson steps are not available; everything that was done is.", config, [], str(path))


@dataclass(frozen=True)
class Reopened:
    """A saved session, replayed: the session and a warning ("" when the replay matches)."""

    path: Path
    session: Session
    warning: str

    def __iter__(self):                       # session, warning = reopen(path)
        return iter((self.session, self.warning))


def reopen(path: Path) -> Reopened:
    """A session equal to the saved one (timeline replayed, redo list restored) and a warning
    ("" when the replay matches the recorded metrics and events). Raises TraceError."""
    data = trace_io.load_trace(path)
    if "config" not in data:
        raise TraceError(f"{path}: field 'config' is missing")
    result = trace_io.replay(data)
    redo = data.get("redo", [])
    if not isinstance(redo, list):
        raise TraceError(f"{path}: field 'redo' is not a list")
    try:
        result.sandbox.redo_stack = [trace_io.change_from_dict(d) for d in redo]
    except ActionError as e:
        raise TraceError(f"{path}: redo: {e}") from None
    session = Session.resume(_scenario(data, path), result.sandbox)
    warning = "" if result.identical else f"the replay differs from the recording: {result.difference}"
    return Reopened(Path(path), session, warning)
