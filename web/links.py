"""Links that carry a whole session, and the page's other URL features (``web/url.py`` keeps the
lesson link, ``?scenario=NAME&step=K``).

- ``?present=1`` opens presentation mode (``0`` or ``1``; anything else is refused by name).
- ``#session=...`` in the URL fragment carries everything built in the browser: the scenario's
  picker name and every change on the timeline (each action, whether it settled, how far a
  cancelled settle got, which lesson step it was), as JSON, zlib-compressed, base64url. The
  fragment never reaches a server, so a long session does not hit a URL length limit there.
- A trace file (``vmemlab run --trace``, the Export tab's download) opens the same way.

Everything read from a link or a file is untrusted input: its size is bounded before it is
inflated, every field is checked, and a bad one gives a one-line ``LinkError`` that names it;
the page then stays as it was.
"""
from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any

from vmemlab.core import trace_io
from vmemlab.core.actions import ActionError
from vmemlab.core.config import MachineConfig
from vmemlab.core.sandbox import Change, Sandbox
from vmemlab.core.scenario import Step

SESSION_KEY = "session"
FORMAT = 1
MAX_FRAGMENT = 400_000        # characters of a #session= fragment
MAX_JSON = 4_000_000          # bytes, once inflated
MAX_CHANGES = 20_000
MAX_TRACE_FILE = 20_000_000   # bytes of an uploaded trace


class LinkError(ValueError):
    """A link or a file that cannot be opened; the message names the part and what is allowed."""


@dataclass(frozen=True)
class SharedSession:
    """What a link or a trace file asks the page to open."""

    scenario: str | None          # picker name (a link), or None (a trace brings its own machine)
    changes: list[Change]
    config: MachineConfig | None = None
    title: str = ""
    metrics: list | None = None   # a trace's recorded metrics, to say whether the replay matches


def parse_present(raw: Any) -> bool:
    """``?present=``: 0 or 1."""
    value = raw[0] if isinstance(raw, (list, tuple)) and len(raw) == 1 else raw
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value in ("0", "1"):
        return value == "1"
    shown = value if isinstance(value, str) else f"given {len(raw)} times" if isinstance(raw, (list, tuple)) else value
    raise LinkError(f"URL parameter present: {str(shown)[:40]!r} is not allowed; allowed: 0, 1")


def encode_session(scenario: str, changes: list[Change]) -> str:
    """The fragment (without '#') that reopens ``scenario`` with these changes."""
    data = {"v": FORMAT, "scenario": scenario, "changes": [c.to_dict() for c in changes]}
    raw = json.dumps(data, separators=(",", ":"), default=int).encode()
    packed = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    return f"{SESSION_KEY}={packed}"


def _inflate(packed: str) -> bytes:
    try:
        data = base64.b64decode(packed + "=" * (-len(packed) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise LinkError("link: the session part is not base64url text (was the link cut off?)") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, MAX_JSON)
    except zlib.error:
        raise LinkError("link: the session part is damaged (not zlib data; was the link cut off?)") from None
    if inflater.unconsumed_tail:
        raise LinkError(f"link: the session is larger than {MAX_JSON // 1_000_000} MB unpacked; allowed: smaller")
    if not inflater.eof:
        raise LinkError("link: the session part is incomplete (was the link cut off?)")
    return raw


def _changes(raw: Any, where: str) -> list[Change]:
    if not isinstance(raw, list):
        raise LinkError(f"{where}: 'changes' must be a list of actions")
    if len(raw) > MAX_CHANGES:
        raise LinkError(f"{where}: {len(raw)} changes; allowed: at most {MAX_CHANGES}")
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(trace_io.change_from_dict(item))
        except ActionError as e:
            raise LinkError(f"{where}: changes[{i}]: {e}") from None
    return out


def _lesson_steps(changes: list[Change], steps: list[Step], where: str) -> None:
    """A change tagged as lesson step k must be that step (or the note a refused step leaves)."""
    for i, c in enumerate(changes):
        k = c.lesson_step
        if not k:
            continue
        if k > len(steps):
            raise LinkError(f"{where}: changes[{i}]: lesson_step {k} does not exist; allowed: 1 to {len(steps)}")
        if c.action != steps[k - 1].action and c.action.name != "note":
            raise LinkError(f"{where}: changes[{i}]: {c.action.label()} is not lesson step {k} "
                            f"({steps[k - 1].action.label()})")


def decode_session(fragment: str, scenarios: dict[str, list[Step]]) -> SharedSession | None:
    """The session a URL fragment carries; None when the fragment is not a session link.
    ``scenarios``: picker name -> its lesson steps (a change tagged as a lesson step must be it)."""
    text = fragment.lstrip("#")
    if not text.startswith(SESSION_KEY + "="):
        return None
    packed = text[len(SESSION_KEY) + 1:]
    if len(packed) > MAX_FRAGMENT:
        raise LinkError(f"link: the session part has {len(packed):,} characters; allowed: at most {MAX_FRAGMENT:,}")
    try:
        data = json.loads(_inflate(packed))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LinkError("link: the session is not valid JSON") from None
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        raise LinkError(f"link: not a vmemlab session of format {FORMAT}")
    unknown = sorted(set(data) - {"v", "scenario", "changes"})
    if unknown:
        raise LinkError(f"link: unknown field {unknown[0]!r}; allowed: v, scenario, changes")
    name = data.get("scenario")
    if not isinstance(name, str) or name not in scenarios:
        raise LinkError(f"link: scenario {str(name)[:60]!r} is not known here; allowed: {', '.join(scenarios)}")
    changes = _changes(data.get("changes"), "link")
    _lesson_steps(changes, scenarios[name], "link")
    return SharedSession(name, changes)


def read_trace(blob: bytes, filename: str = "trace") -> SharedSession:
    """A trace file (``vmemlab-trace`` JSON), checked like ``vmemlab replay`` checks one."""
    where = filename[:80] or "trace"
    if len(blob) > MAX_TRACE_FILE:
        raise LinkError(f"{where}: {len(blob):,} bytes; allowed: at most {MAX_TRACE_FILE:,}")
    try:
        data = json.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise LinkError(f"{where}: not UTF-8 text (byte {e.start})") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise LinkError(f"{where}: not valid JSON: {str(e)[:80]}") from None
    if not isinstance(data, dict) or data.get("format") != trace_io.FORMAT:
        raise LinkError(f"{where}: not a vmemlab trace (expected \"format\": \"{trace_io.FORMAT}\")")
    if data.get("version") not in trace_io.READABLE_VERSIONS:
        raise LinkError(f"{where}: trace version {str(data.get('version'))[:20]} is not supported; allowed: "
                        f"{', '.join(map(str, trace_io.READABLE_VERSIONS))}")
    try:
        config = trace_io.config_from_dict(data.get("config"))
    except trace_io.TraceError as e:
        raise LinkError(f"{where}: {e}") from None
    metrics = data.get("metrics")
    title = data.get("title") if isinstance(data.get("title"), str) else ""
    title = "".join(ch for ch in title if ch.isprintable())[:120]
    # The trace's lesson steps belong to a scenario file the page does not have: its changes
    # replay as the user's own (same machine, same numbers), without narration.
    changes = [Change(c.action, c.settle, c.max_steps) for c in _changes(data.get("actions"), where)]
    return SharedSession(None, changes, config, title, metrics if isinstance(metrics, list) else None)


def replay_mismatch(sandbox: Sandbox, metrics: list | None) -> str:
    """Where a replayed trace differs from its recorded metrics ('' when it matches)."""
    if not metrics:
        return ""
    history = sandbox.metrics_history()
    for i, (got, want) in enumerate(zip(history, metrics)):
        if trace_io.metrics_dict(got) != want:
            return "at boot" if i == 0 else f"after action {i}"
    return "" if len(history) == len(metrics) else f"the trace has {len(metrics)} metric rows for {len(history)}"
