"""Expectations: a lesson step's ``expect`` table, checked against the model after the step.

A teacher ships a lab as one TOML file and ``vmemlab run --check`` grades it. Every key names
something a student can also read on a real VM (plugged_size, MemTotal, memoryN's zone, what
the device answered), so a lesson states facts, not implementation details.

Numbers accept a comparison prefix (``">= 1G"``, ``"< 3"``, ``"!= 0"``); a bare value means
equality. ``validate`` rejects unknown keys and wrong types before anything runs.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .driver_bbm import BbState
from .driver_sbm import MbState
from .events import Event, Kind
from .machine import SLEEP_REFUSED, Machine, Metrics
from .memory import ZONE_NAMES, Zone
from .mirrors import MIRRORS
from .runner import StepResult, apply_step
from .sandbox import Sandbox
from .scenario import Scenario, ScenarioError
from .units import SizeError, format_size, human, parse_size, shown

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "==": operator.eq,
    ">": operator.gt, "<": operator.lt,
}
DRIVER_STATES = ("idle", "working", "waiting", "blocked", "broken")
GUEST_STATES = ("alive", "dead")
SLEEP_OUTCOMES = ("refused", "none")
BLOCK_STATES = tuple(dict.fromkeys([s.name for s in MbState] + [s.name for s in BbState]))
ZONES = ("DMA32", "Normal", "Movable", "none")
RESPONSES = ("ACK", "NACK", "BUSY", "ERROR")
STATE_ANSWERS = ("PLUGGED", "UNPLUGGED", "MIXED")
REQUEST_TYPES = ("PLUG", "UNPLUG", "UNPLUG_ALL", "STATE")
BLOCK_FIELDS = ("id", "state", "zone", "online", "present", "plugged")
DEVICE_FIELDS = ("plugged_size", "requested_size", "usable_region_size", "driver", "backoff", "node")


class ExpectError(ValueError):
    """An expectation that cannot be understood; the message names the key and allowed values."""


@dataclass(frozen=True)
class Check:
    """One graded expectation: what was wanted and what the model shows."""

    key: str
    ok: bool
    expected: str
    actual: str


@dataclass
class StepState:
    """What an expectation may look at: the machine after the step, its events, the numbers before."""

    machine: Machine
    events: list[Event]
    error: str
    before: Metrics


# ----- comparing values ---------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    op: str
    value: Any


def split_op(raw: Any) -> tuple[str, Any]:
    """'>= 16G' -> ('>=', '16G'); anything else is wanted as is."""
    if isinstance(raw, str):
        text = raw.strip()
        for op in OPS:
            if text.startswith(op):
                return op, text[len(op):].strip()
    return "==", raw


def _size(raw: Any, key: str, signed: bool = False) -> Wanted:
    op, value = split_op(raw)
    sign = 1
    if signed and isinstance(value, str) and value[:1] in "+-":
        sign, value = (-1 if value[0] == "-" else 1), value[1:]
    if signed and isinstance(value, int) and not isinstance(value, bool) and value < 0:
        sign, value = -1, -value
    try:
        return Wanted(op, sign * parse_size(value, key))
    except SizeError as e:
        raise ExpectError(f"{e}; a comparison like '>= 1G' is allowed too"
                          + ("; a change may be signed, e.g. '-2M'" if signed else "")) from None


def _number(raw: Any, key: str, kind: type) -> Wanted:
    op, value = split_op(raw)
    if isinstance(value, bool):
        raise ExpectError(f"{key}: expected a number, got {value!r}")
    try:
        return Wanted(op, kind(value))
    except (TypeError, ValueError):
        raise ExpectError(f"{key}: {raw!r} is not a number; write e.g. 3 or '>= 3'") from None


def _choice(raw: Any, key: str, choices: tuple[str, ...]) -> Wanted:
    if not isinstance(raw, str):
        raise ExpectError(f"{key}: expected a string; allowed: {', '.join(choices)}")
    norm = raw.strip().upper().removeprefix("ZONE_")
    for c in choices:
        if c.upper() == norm:
            return Wanted("==", c)
    raise ExpectError(f"{key}: {raw!r} is not allowed; allowed: {', '.join(choices)}")


def _bool(raw: Any, key: str) -> Wanted:
    if not isinstance(raw, bool):
        raise ExpectError(f"{key}: expected true or false, got {raw!r}")
    return Wanted("==", raw)


def _fragments(raw: Any, key: str) -> Wanted:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s for s in items):
        raise ExpectError(f"{key}: expected a text fragment or a list of them, e.g. \"NACK\"")
    return Wanted("contains", tuple(items))


def _ids(raw: Any, key: str) -> Wanted:
    if isinstance(raw, list):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
            raise ExpectError(f"{key}: expected a list of memory block numbers, e.g. [39, 38], or a count")
        return Wanted("set", tuple(sorted(raw)))
    return _number(raw, key, int)


def _counts(raw: Any, key: str, names: tuple[str, ...]) -> dict[str, Wanted]:
    if not isinstance(raw, dict):
        raise ExpectError(f"{key}: expected a table, e.g. {key} = {{ {names[-1]} = 2 }}; keys: {', '.join(names)}")
    return {_choice(k, f"{key}.{k}", names).value: _number(v, f"{key}.{k}", int) for k, v in raw.items()}


# ----- reading the model --------------------------------------------------------------------
def driver_state(status: str) -> str:
    """'waiting for retry at t=50s' -> 'waiting': the first word of Driver.status()."""
    return status.split()[0].rstrip(":")


def _metric(name: str) -> Callable[[StepState], int]:
    return lambda s: getattr(s.machine.metrics(), name)


def _change(name: str) -> Callable[[StepState], int]:
    return lambda s: getattr(s.machine.metrics(), name) - getattr(s.before, name)


def _lsmem_total(online: bool) -> Callable[[StepState], int]:
    def read(s: StepState) -> int:
        mem = s.machine.mem
        present = mem.mb_present & (mem.mb_online if online else ~mem.mb_online)
        return int(present.sum()) * mem.mb_size
    return read


def _events_of(kind: Kind) -> Callable[[StepState], list[int]]:
    return lambda s: [e.memory_block for e in s.events if e.kind == kind]


def _all_drivers(s: StepState) -> str:
    states = sorted({driver_state(d.status()) for d in s.machine.drivers})
    return "/".join(states)


def _count_requests(s: StepState, field: str, names: tuple[str, ...]) -> dict[str, int]:
    """Requests of the step counted by ``field`` (response or request type); repeats included."""
    out = {r: 0 for r in names}
    for e in s.events:
        if e.kind == Kind.REQUEST and getattr(e, field) in out:
            out[getattr(e, field)] += e.repeat
    return out


def _responses(s: StepState) -> dict[str, int]:
    return _count_requests(s, "response", RESPONSES)


def _request_types(s: StepState) -> dict[str, int]:
    return _count_requests(s, "request", REQUEST_TYPES)


def _sleep(s: StepState) -> str:
    """Whether the guest tried to suspend or hibernate in this step and was refused (Linux 6.1
    always refuses while virtio-mem is bound; the model has no guest that sleeps)."""
    return "refused" if any(e.kind == Kind.GUEST and SLEEP_REFUSED in e.text for e in s.events) else "none"


def _state_answers(s: StepState) -> dict[str, int]:
    out = {r: 0 for r in STATE_ANSWERS}
    for e in s.events:
        if e.kind == Kind.REQUEST and e.request == "STATE" and e.state in out:
            out[e.state] += e.repeat
    return out


def block_facts(m: Machine, sysfs_id: int) -> dict[str, Any] | None:
    """What a ``block = { id = N, ... }`` expectation can check about memoryN (None: not guest RAM)."""
    mem = m.mem
    mb = mem.phys_to_mb.get(sysfs_id)
    if mb is None:
        return None
    dev = int(mem.mb_device[mb])
    online = bool(mem.mb_online[mb])
    if dev >= 0:
        drv = m.drivers[dev]
        state = drv.block_state_name(mb - drv.mb_off)
    else:
        state = "boot"
    sl = mem.mb_chunks(mb)
    return {
        "state": state,
        "zone": ZONE_NAMES[Zone(int(mem.mb_zone[mb]))] if online else "none",
        "online": online,
        "present": bool(mem.mb_present[mb]),
        "plugged": int(mem.plugged[sl].sum()) * (2 << 20),
    }


def _device(m: Machine, dev_id: str) -> int:
    try:
        return m.device(dev_id)
    except KeyError:
        raise ExpectError(f"devices.{dev_id}: no such device; allowed: "
                          + ", ".join(d.id for d in m.devices)) from None


# ----- the keys -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    """One expect key: how to read its wanted value, what it means, how to read the model."""

    parse: Callable[[Any, str], Any]
    help: str
    read: Callable[[StepState], Any] | None = None
    kind: str = "value"      # value | size | text | ids | counts | special


def _sz(signed: bool = False) -> Callable[[Any, str], Wanted]:
    return lambda raw, key: _size(raw, key, signed)


KEYS: dict[str, Key] = {
    "plugged_size": Key(_sz(), "sum of the devices' plugged_size (QMP 'size')", _metric("plugged"), "size"),
    "requested_size": Key(_sz(), "sum of the devices' requested-size", _metric("requested"), "size"),
    "usable_region_size": Key(_sz(), "sum of the devices' usable_region_size", _metric("usable"), "size"),
    "mem_total": Key(_sz(), "/proc/meminfo MemTotal", _metric("mem_total"), "size"),
    "mem_free": Key(_sz(), "/proc/meminfo MemFree", _metric("mem_free"), "size"),
    "memmap": Key(_sz(), "struct pages of hot-added memory blocks (64 B per 4 KiB)", _metric("memmap"), "size"),
    "plugged_size_change": Key(_sz(True), "plugged_size after minus before this step", _change("plugged"), "change"),
    "mem_total_change": Key(_sz(True), "MemTotal after minus before this step", _change("mem_total"), "change"),
    "mem_free_change": Key(_sz(True), "MemFree after minus before this step", _change("mem_free"), "change"),
    "memmap_change": Key(_sz(True), "memmap after minus before this step", _change("memmap"), "change"),
    "online_memory": Key(_sz(), "lsmem 'Total online memory' (whole memory blocks)", _lsmem_total(True), "size"),
    "offline_memory": Key(_sz(), "lsmem 'Total offline memory'", _lsmem_total(False), "size"),
    "free_2m_chunks": Key(lambda r, k: _number(r, k, int), "completely free online 2 MiB chunks",
                          _metric("free_2m_chunks")),
    "time": Key(lambda r, k: _number(r, k, float), "simulated time in seconds", lambda s: s.machine.now),
    "backoff": Key(lambda r, k: _number(r, k, int), "the first device's current retry backoff in seconds",
                   lambda s: s.machine.drivers[0].retry_timer_ms // 1000),
    "requests": Key(lambda r, k: _number(r, k, int), "requests sent to the devices in this step",
                    lambda s: sum(e.repeat for e in s.events if e.kind == Kind.REQUEST)),
    "driver": Key(lambda r, k: _choice(r, k, DRIVER_STATES), "state of every device's driver",
                  _all_drivers),
    "guest": Key(lambda r, k: _choice(r, k, GUEST_STATES), "alive, or dead after an unrecoverable OOM",
                 lambda s: "dead" if s.machine.guest.dead else "alive"),
    "sleep": Key(lambda r, k: _choice(r, k, SLEEP_OUTCOMES), "refused: a suspend or hibernation in this step was "
                 "refused by the guest kernel; none: nobody tried", _sleep),
    "error": Key(lambda r, k: r if isinstance(r, bool) and not r else _fragments(r, k),
                 "text fragment of this step's refusal, or false for 'not refused'", lambda s: s.error, "text"),
    "event": Key(_fragments, "text fragment(s) that must appear in this step's events",
                 lambda s: [e.text for e in s.events], "text"),
    "no_event": Key(_fragments, "text fragment(s) that must not appear in this step's events",
                    lambda s: [e.text for e in s.events], "text"),
    "removed": Key(_ids, "memory blocks removed in this step: a list of N of memoryN, or a count",
                   _events_of(Kind.BLOCK_REMOVED), "ids"),
    "added": Key(_ids, "memory blocks added in this step: a list or a count", _events_of(Kind.BLOCK_ADDED), "ids"),
    "onlined": Key(_ids, "memory blocks onlined in this step: a list or a count",
                   _events_of(Kind.BLOCK_ONLINED), "ids"),
    "first_removed": Key(lambda r, k: _number(r, k, int), "N of the first memoryN removed in this step",
                         lambda s: next(iter(_events_of(Kind.BLOCK_REMOVED)(s)), -1)),
    "blocks": Key(lambda r, k: _counts(r, k, BLOCK_STATES),
                  "memory blocks per driver state; states not listed must be 0", None, "counts"),
    "responses": Key(lambda r, k: _counts(r, k, RESPONSES), "device answers in this step (listed ones only)",
                     _responses, "counts"),
    "request_types": Key(lambda r, k: _counts(r, k, REQUEST_TYPES), "requests of this step by type (PLUG, UNPLUG, "
                         "UNPLUG_ALL, STATE; listed ones only)", _request_types, "counts"),
    "state_answers": Key(lambda r, k: _counts(r, k, STATE_ANSWERS), "what the STATE requests of this step answered "
                         "(PLUGGED, UNPLUGGED, MIXED; listed ones only)", _state_answers, "counts"),
    "block": Key(lambda r, k: _blocks(r, k), f"one memory block (or a list): {', '.join(BLOCK_FIELDS)}",
                 None, "special"),
    "devices": Key(lambda r, k: _devices(r, k), f"per device id: {', '.join(DEVICE_FIELDS)}", None, "special"),
    "mirror": Key(lambda r, k: _mirrors(r, k), f"text fragment(s) of a real tool's output: {', '.join(MIRRORS)}",
                  None, "special"),
    "no_mirror": Key(lambda r, k: _mirrors(r, k), "text fragment(s) that must not appear in a real tool's output",
                     None, "special"),
    "compare": Key(lambda r, k: _compare_spec(r, k), "contrasts with a balloon and DIMMs, graded against a "
                   "side-by-side run of the same steps (vmemlab run --check and vmemlab compare)", None, "elsewhere"),
}


def _compare_spec(raw: Any, key: str) -> Any:
    from .compare.expectations import parse   # the comparison models import this module
    return parse(raw, key)


def _blocks(raw: Any, key: str) -> list[dict[str, Wanted]]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
            raise ExpectError(f"{key}: expected {{ id = N, ... }} with N of memoryN; fields: {', '.join(BLOCK_FIELDS)}")
        spec = {"id": Wanted("==", item["id"])}
        for f, v in item.items():
            where = f"{key}.{f}"
            if f == "id":
                continue
            if f == "state":
                spec[f] = _choice(v, where, BLOCK_STATES + ("boot",))
            elif f == "zone":
                spec[f] = _choice(v, where, ZONES)
            elif f in ("online", "present"):
                spec[f] = _bool(v, where)
            elif f == "plugged":
                spec[f] = _size(v, where)
            else:
                raise ExpectError(f"{key}: unknown field {f!r}; allowed: {', '.join(BLOCK_FIELDS)}")
        out.append(spec)
    return out


def _devices(raw: Any, key: str) -> dict[str, dict[str, Wanted]]:
    if not isinstance(raw, dict):
        raise ExpectError(f"{key}: expected a table of device ids, e.g. devices = {{ vmem1 = {{ plugged_size = \"1G\" }} }}")
    out = {}
    for dev_id, fields in raw.items():
        if not isinstance(fields, dict):
            raise ExpectError(f"{key}.{dev_id}: expected a table; fields: {', '.join(DEVICE_FIELDS)}")
        spec = {}
        for f, v in fields.items():
            where = f"{key}.{dev_id}.{f}"
            if f in ("plugged_size", "requested_size", "usable_region_size"):
                spec[f] = _size(v, where)
            elif f == "driver":
                spec[f] = _choice(v, where, DRIVER_STATES)
            elif f in ("backoff", "node"):
                spec[f] = _number(v, where, int)
            else:
                raise ExpectError(f"{key}.{dev_id}: unknown field {f!r}; allowed: {', '.join(DEVICE_FIELDS)}")
        out[dev_id] = spec
    return out


def _mirrors(raw: Any, key: str) -> dict[str, Wanted]:
    if not isinstance(raw, dict):
        raise ExpectError(f"{key}: expected a table, e.g. mirror = {{ lsmem = \"Total online memory:\" }}")
    out = {}
    for name, v in raw.items():
        if name not in MIRRORS:
            raise ExpectError(f"{key}: unknown mirror {name!r}; allowed: {', '.join(MIRRORS)}")
        out[name] = _fragments(v, f"{key}.{name}")
    return out


# ----- validating and evaluating ------------------------------------------------------------
def validate(expect: dict[str, Any]) -> dict[str, Any]:
    """Parse every key of an expect table; raises ExpectError naming the key and allowed values."""
    out = {}
    for key, raw in expect.items():
        spec = KEYS.get(key)
        if spec is None:
            raise ExpectError(f"expect: unknown key {key!r}; allowed: {', '.join(KEYS)}")
        out[key] = spec.parse(raw, key)
    return out


def _show(value: Any, kind: str) -> str:
    if kind in ("size", "change") and isinstance(value, int) and not isinstance(value, bool):
        text = ("+" if kind == "change" and value > 0 else "") + format_size(value)
        return f"{text} ({human(value)})" if text[-1] in "KB" and abs(value) >= 1 << 20 else text
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _compare(key: str, wanted: Wanted, actual: Any, kind: str = "value") -> Check:
    if wanted.op == "set":
        ok = sorted(actual) == list(wanted.value)
        return Check(key, ok, str(list(wanted.value)), str(sorted(actual)))
    if kind == "ids":
        actual = len(actual)
    ok = OPS[wanted.op](actual, wanted.value)
    shown = _show(wanted.value, kind)
    return Check(key, ok, shown if wanted.op == "==" else f"{wanted.op} {shown}", _show(actual, kind))


def _text_check(key: str, wanted: Any, texts: Any) -> Check:
    haystack = texts if isinstance(texts, list) else [texts]
    low = [t.lower() for t in haystack]
    if wanted is False:
        return Check(key, not texts, "no error", texts or "no error")
    found = [any(f.lower() in t for t in low) for f in wanted.value]
    ok = all(found) if key != "no_event" else not any(found)
    missing = [f for f, hit in zip(wanted.value, found) if hit != (key != "no_event")]
    if key == "error":
        actual = texts or "no error"
    elif ok:
        actual = "found" if key != "no_event" else "absent"
    else:
        actual = ("not found: " if key != "no_event" else "present: ") + "; ".join(repr(f) for f in missing)
    return Check(key, ok, " & ".join(repr(f) for f in wanted.value), actual)


def evaluate(expect: dict[str, Any], state: StepState) -> list[Check]:
    """Grade one step: one Check per expectation (nested tables give one Check per field)."""
    checks: list[Check] = []
    for key, wanted in validate(expect).items():
        spec = KEYS[key]
        if spec.kind == "elsewhere":
            continue
        if spec.kind == "text":
            checks.append(_text_check(key, wanted, spec.read(state)))
        elif spec.kind == "counts":
            actual = spec.read(state) if spec.read else state.machine.metrics().blocks
            names = wanted.keys() if key != "blocks" else sorted(set(wanted) | set(actual))
            for name in names:
                want = wanted.get(name, Wanted("==", 0))
                checks.append(_compare(f"{key}.{name}", want, actual.get(name, 0)))
        elif key == "block":
            checks += _check_blocks(wanted, state.machine)
        elif key == "devices":
            checks += _check_devices(wanted, state.machine)
        elif key in ("mirror", "no_mirror"):
            for name, frag in wanted.items():
                text = MIRRORS[name].render(state.machine)
                check = _text_check("no_event" if key == "no_mirror" else key, frag, text)
                checks.append(Check(f"{key}.{name}", check.ok, check.expected, check.actual))
        else:
            checks.append(_compare(key, wanted, spec.read(state), spec.kind))
    return checks


def _check_blocks(specs: list[dict[str, Wanted]], m: Machine) -> list[Check]:
    out = []
    for spec in specs:
        sid = spec["id"].value
        facts = block_facts(m, sid)
        for f, want in spec.items():
            if f == "id":
                continue
            key = f"block {sid}.{f}"
            if facts is None:
                out.append(Check(key, False, _show(want.value, "value"), f"memory{sid} is not guest RAM"))
                continue
            actual = facts[f]
            if f in ("state", "zone"):
                ok = str(actual).lower() == str(want.value).lower()
                out.append(Check(key, ok, str(want.value), str(actual)))
            else:
                out.append(_compare(key, want, actual, "size" if f == "plugged" else "value"))
    return out


def _check_devices(specs: dict[str, dict[str, Wanted]], m: Machine) -> list[Check]:
    out = []
    for dev_id, spec in specs.items():
        i = _device(m, dev_id)
        d, drv = m.devices[i], m.drivers[i]
        facts = {"plugged_size": d.plugged_size, "requested_size": d.requested_size,
                 "usable_region_size": d.usable_region_size, "driver": driver_state(drv.status()),
                 "backoff": drv.retry_timer_ms // 1000, "node": d.node_id}
        for f, want in spec.items():
            kind = "size" if f.endswith("_size") else "value"
            out.append(_compare(f"{dev_id}.{f}", want, facts[f], kind))
    return out


def actual_value(key: str, state: StepState) -> Any:
    """The model's value for a simple key (what a quiz reveals and grades against)."""
    spec = KEYS[key]
    if spec.kind == "counts":
        return spec.read(state) if spec.read else state.machine.metrics().blocks
    if spec.read is None:
        return None
    return spec.read(state)


def numbers_in(text: str) -> list[float]:
    """The whole numbers in a student's answer ("memory39" -> 39); a run of more than 30 digits
    counts as infinity, which matches nothing (and is never converted digit by digit)."""
    return [int(n) if len(n) <= 30 else math.inf for n in re.findall(r"\d+", text, re.ASCII)]


def words_match(answer: str, key: str, actual: Any, first_name: str = "") -> bool:
    """Does a student's free-text prediction match the model's value for ``key``?

    Sizes are parsed ("300M", "300 MiB"), numbers and block lists compared as numbers
    ("memory39" counts as 39; for a list, its length counts too), states and zones by name. For
    counts (responses, blocks) a number is compared with ``first_name``'s count, otherwise the
    names mentioned must be exactly those that occurred ("NACK").
    """
    spec = KEYS[key]
    text = answer.strip()
    if not text:
        return False
    if spec.kind in ("size", "change"):
        try:
            return _size(text.replace(" ", "").replace("iB", ""), key, signed=True).value == actual
        except ExpectError:
            return False
    if spec.kind == "ids":
        nums = sorted(numbers_in(text))
        return nums == sorted(actual) or nums == [len(actual)] or (not nums and not actual and "none" in text.lower())
    if spec.kind == "counts":
        nums = numbers_in(text)
        if nums and first_name:
            return nums[0] == actual.get(first_name, 0)
        said = {w.upper().removeprefix("ZONE_") for w in re.findall(r"[A-Za-z_]+", text)}
        return bool(said) and said & set(actual) == {k for k, v in actual.items() if v}
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        nums = re.findall(r"-?\d+(?:\.\d+)?", text)
        if not nums and re.fullmatch(r"(none|no|zero|nothing)\b.*", text.lower()):
            nums = ["0"]                       # "none" is a prediction of 0 ("how many requests?")
        return bool(nums) and float(nums[0]) == float(actual)
    if isinstance(actual, str):
        return text.lower().removeprefix("zone_") in actual.lower() if actual else False
    return False


# ----- a whole scenario ---------------------------------------------------------------------
def validate_scenario(scenario: Scenario) -> None:
    """Check every step's expect table before anything runs, device ids against the config;
    ScenarioError names file, step, key."""
    ids = [d.id for d in scenario.config.devices]
    for step in scenario.steps:
        try:
            wanted = validate(step.expect)
            for dev_id in wanted.get("devices", {}):
                if dev_id not in ids:
                    raise ExpectError(f"devices.{shown(dev_id)[1:-1]}: no such device; allowed: {', '.join(ids)}")
        except ExpectError as e:
            raise ScenarioError(scenario.source, f"step {step.index} ({step.action.name})", str(e)) from None


@dataclass
class GradedStep:
    """One played step: the sandbox after it, what it did, what the model showed, the grades."""

    sandbox: Sandbox
    result: StepResult
    state: StepState
    checks: list[Check]


def check_run(scenario: Scenario, sandbox: Sandbox | None = None) -> Iterator[GradedStep]:
    """Play the scenario and grade each step's expect table right after it. ``compare`` tables
    are graded too, against one side-by-side run of the same steps (balloon and DIMMs)."""
    from .compare.expectations import grade_scenario   # the comparison models import this module

    compared = grade_scenario(scenario)
    sb = sandbox or Sandbox(scenario.config)
    for step in scenario.steps:
        before = sb.machine.metrics()
        result = apply_step(sb, step)
        shown = [e for e in result.events if e.kind != Kind.NOTE]
        state = StepState(sb.machine, shown, result.error, before)
        yield GradedStep(sb, result, state, evaluate(step.expect, state) + compared.get(step.index, []))
