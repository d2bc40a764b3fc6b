"""Export a run: a replayable trace (JSON) and one metrics row per lesson step (CSV).

A trace holds the machine config and every change on the sandbox's timeline (each action with
whether the driver then settled, and which lesson step it was), plus per-change metrics and a
digest of all events. Because the
machine owns its seeded RNG, replaying the actions on a fresh machine must give the same
metrics and the same events; ``replay`` checks exactly that.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import actions as act
from .actions import ActionError
from .config import ConfigError, MachineConfig
from .config_io import SIZE_FIELDS, FieldError, read_config
from .events import Event
from .machine import Metrics
from .sandbox import Change, Sandbox
from .scenario import decode
from .session import Session
from .units import format_size, shown

FORMAT = "vmemlab-trace"
VERSION = 2
READABLE_VERSIONS = (1, 2)   # version 1: settles were separate actions; it replays unchanged
BLOCK_COLUMNS = ("PLUGGED", "OFFLINE", "OFFLINE_PARTIAL", "KERNEL", "KERNEL_PARTIAL", "MOVABLE",
                 "MOVABLE_PARTIAL", "ADDED", "FAKE_OFFLINE")
METRIC_COLUMNS = ("step", "action", "time", "requested", "plugged", "usable", "mem_total", "mem_free",
                  "memmap", "free_2m_chunks") + tuple(f"blocks_{s}" for s in BLOCK_COLUMNS)


class TraceError(ValueError):
    """A trace file that cannot be read or replayed; the message names the file and field."""


# ----- config <-> plain data ----------------------------------------------------------------
def _sizes_out(d: dict) -> dict:
    return {k: (format_size(v) if k in SIZE_FIELDS and v is not None else v) for k, v in d.items()}


def config_to_dict(config: MachineConfig) -> dict:
    """The config as scenario-file tables: sizes as exact strings ("4G"), devices as a list."""
    out = _sizes_out({k: v for k, v in asdict(config).items() if k != "devices"})
    out["devices"] = [_sizes_out(asdict(d)) for d in config.devices]
    return out


def config_from_dict(raw: Any) -> MachineConfig:
    """Inverse of config_to_dict, every field typed strictly; raises TraceError naming the field."""
    if not isinstance(raw, dict) or not isinstance(raw.get("devices"), list) or not raw["devices"]:
        raise TraceError("config: expected an object with a non-empty 'devices' list")
    try:
        return read_config({k: v for k, v in raw.items() if k != "devices"}, raw["devices"], "config",
                           lambda i: f"config.devices[{i}]")
    except (FieldError, ConfigError) as e:
        raise TraceError(f"config: {e}" if isinstance(e, ConfigError) else str(e)) from None


# ----- digests ------------------------------------------------------------------------------
def events_digest(events: list[Event]) -> str:
    """sha256 over every event as sorted JSON, one per line: equal digests = identical event logs."""
    h = hashlib.sha256()
    for e in events:
        h.update(json.dumps(e.to_dict(), sort_keys=True, default=int).encode())
        h.update(b"\n")
    return h.hexdigest()


def metrics_dict(m: Metrics) -> dict:
    return {k: (dict(sorted(v.items())) if isinstance(v, dict) else v) for k, v in asdict(m).items()}


# ----- export -------------------------------------------------------------------------------
def trace(sandbox: Sandbox, title: str = "", source: str = "") -> dict:
    """Everything needed to replay the sandbox's history and to prove the replay identical."""
    sandbox.stop_work()
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": title,
        "source": source,
        "config": config_to_dict(sandbox.config),
        "actions": [c.to_dict() for c in sandbox.changes()],
        "step_positions": [i for i, c in enumerate(sandbox.changes()) if c.lesson_step],
        "metrics": [metrics_dict(m) for m in sandbox.metrics_history()],
        "events": len(sandbox.events),
        "events_sha256": events_digest(sandbox.events),
    }


def session_trace(session: Session) -> dict:
    """The trace of what a view's session did: lesson steps and the user's own actions alike."""
    sc = session.scenario
    return trace(session.sandbox, sc.title, sc.source)


def session_metrics_csv(session: Session) -> str:
    """One metrics row per position of the session's timeline (0 = boot)."""
    sb = session.sandbox
    labels = ["boot"] + [a.label() for a in sb.actions()]
    return metrics_rows(list(zip(range(len(labels)), labels, sb.metrics_history())))


def write_trace(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=1, default=int) + "\n", encoding="utf-8")


def metrics_rows(rows: list[tuple[int, str, Metrics]]) -> str:
    """CSV text: one row per (step number, action label, metrics after it); bytes, seconds."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(METRIC_COLUMNS)
    for step, label, m in rows:
        w.writerow([step, label, f"{m.time:.6f}", m.requested, m.plugged, m.usable, m.mem_total, m.mem_free,
                    m.memmap, m.free_2m_chunks] + [m.blocks.get(s, 0) for s in BLOCK_COLUMNS])
    return out.getvalue()


# ----- replay -------------------------------------------------------------------------------
def change_from_dict(raw: Any) -> Change:
    """One timeline position from its trace form; ActionError names the bad field."""
    if not isinstance(raw, dict):
        raise ActionError(f"expected an object like {{\"action\": \"request\", \"size\": \"1G\"}}, got {shown(raw)}")
    d = dict(raw)
    settle = d.pop("settle", False)
    steps = d.pop("settle_steps", None)
    lesson = d.pop("lesson_step", 0)
    if not isinstance(settle, bool):
        raise ActionError(f"settle: expected true or false, got {shown(settle)}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        raise ActionError(f"settle_steps: expected a whole number >= 0, got {shown(steps)}")
    if isinstance(lesson, bool) or not isinstance(lesson, int) or lesson < 0:
        raise ActionError(f"lesson_step: expected a whole number >= 0, got {shown(lesson)}")
    return Change(act.from_dict(d), settle, steps, lesson)


@dataclass
class ReplayResult:
    """Outcome of a replay: identical, or the first action where it differs and how."""

    sandbox: Sandbox
    identical: bool
    actions: int
    events: int
    digest: str
    difference: str = ""


MAX_TRACE_BYTES = 256 << 20
_FIELDS = (("config", dict, True), ("actions", list, True), ("metrics", list, True), ("events_sha256", str, True),
           ("events", int, True), ("title", str, False), ("source", str, False), ("step_positions", list, False))
_TYPE_WORDS = {dict: "an object", list: "a list", str: "a string", int: "a whole number"}


def load_trace(path: str | Path) -> dict:
    """Read and check a trace file: its format, version and the type of every top-level field
    (the config and the actions are checked by ``replay``, which names the entry)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TRACE_BYTES + 1)
    except OSError as e:
        raise TraceError(f"{path}: cannot read the file: {e.strerror or e}") from None
    if len(raw) > MAX_TRACE_BYTES:
        raise TraceError(f"{path}: larger than 256 MiB; not a trace vmemlab wrote")
    try:
        data = json.loads(decode(raw, str(path)).removeprefix("\ufeff"))
    except ValueError as e:      # ScenarioError (bytes), JSONDecodeError, a number of 4300+ digits
        raise TraceError(f"{path}: not valid JSON: {e}" if not str(e).startswith(str(path)) else str(e)) from None
    except RecursionError:
        raise TraceError(f"{path}: not valid JSON here: arrays or objects are nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError(f"{path}: not a vmemlab trace (expected \"format\": \"{FORMAT}\"; "
                         "write one with vmemlab run FILE --trace out.json)")
    version = data.get("version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise TraceError(f"{path}: trace version {shown(version)} is not supported; "
                         f"allowed: {', '.join(map(str, READABLE_VERSIONS))}")
    for key, typ, required in _FIELDS:
        value = data.get(key)
        if (value is not None or required) and (not isinstance(value, typ) or isinstance(value, bool)):
            raise TraceError(f"{path}: field {key!r} is missing or not {_TYPE_WORDS[typ]}")
    for i, row in enumerate(data["metrics"]):
        if not isinstance(row, dict):
            raise TraceError(f"{path}: metrics[{i}]: expected an object of metrics, got {shown(row)}")
    return data


def replay(data: dict) -> ReplayResult:
    """Apply the trace's actions to a fresh machine and compare every step's metrics and the events."""
    sb = Sandbox(config_from_dict(data["config"]))
    recorded = data["metrics"]
    diff = ""
    if recorded and metrics_dict(sb.initial_metrics) != recorded[0]:
        diff = "the machine differs right after boot (config or model version changed)"
    for i, raw in enumerate(data["actions"], start=1):
        try:
            change = change_from_dict(raw)
        except ActionError as e:
            raise TraceError(f"actions[{i - 1}]: {e}") from None
        try:
            sb.apply_change(change)
        except ActionError as e:
            raise TraceError(f"actions[{i - 1}] ({change.action.label()}) was refused on replay: {e}") from None
        action = change.action
        if not diff and i < len(recorded) and metrics_dict(sb.entries[-1].metrics) != recorded[i]:
            got, want = metrics_dict(sb.entries[-1].metrics), recorded[i]
            keys = [k for k in want if got.get(k) != want[k]]
            diff = f"action {i} ({action.label()}) gives different {', '.join(keys)}"
    digest = events_digest(sb.events)
    if not diff and len(recorded) != len(data["actions"]) + 1:
        diff = f"the trace has {len(recorded)} metric rows for {len(data['actions'])} actions"
    if not diff and (digest != data["events_sha256"] or len(sb.events) != data["events"]):
        diff = f"the event log differs ({len(sb.events)} events replayed, {data['events']} recorded)"
    return ReplayResult(sb, not diff, len(data["actions"]), len(sb.events), digest, diff)
