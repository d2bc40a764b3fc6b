"""Retries that change nothing, carried forward in closed form.

While a migration runs, every retry of a driver that wants to plug gets BUSY again; while
memory stays unmovable, every retry of an unplug fails again. Such a run ends exactly where it
started (same blocks, pages, RNG, the backoff already at its 300 s cap); only the clock, the
retry timers and two counters move. A year of them is about 105,000 runs.

``Machine.advance`` fires each kind of firing for real, checks with a fingerprint of the whole
machine (``core.fingerprint``) that it changed nothing, and from then on carries the clock, the
timers and the counters forward exactly as firing them one by one would, float operation for
float operation, without running a driver: a single timer in closed form (constant steps within
each power of two of the clock, a few dozen steps for a year), several timers one cheap step
per firing. The repeated events are emitted once each, with their count in ``Event.repeat``.

This rests on one property of the model: it reads the clock only to arm retry timers (and to
stamp events). A rule that depends on the time itself (a pin that expires after N seconds)
would have to be added to ``Clocks`` or end the repeat; test_machine_advance compares every
case with firing one by one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from .driver import REQUEST_SECONDS, RETRY_TIMER_MAX_MS
from .events import Event
from .fingerprint import digest

if TYPE_CHECKING:
    from .machine import Machine

# What a repeated firing may change: the clock and timers (carried forward exactly), counters
# (by their increments: a driver's requests, the memory's change counters that key its caches),
# the events (summarised) and those caches. A new counter elsewhere must be listed here, or no
# firing ever looks unchanged (correct, but slow again: test_machine_advance counts the runs).
MEMORY_COUNTERS = ("version", "_zone_version")
VOLATILE = frozenset({"clock", "pending", "timer_at", "requests", *MEMORY_COUNTERS, "_free_chunks", "_wm"})
KEEP, NONE, ARMED = "keep", "none", "armed"


@dataclass(frozen=True)
class Firing:
    """What one firing that changed nothing did, per driver (in index order)."""

    fired: tuple[int, ...]        # drivers whose timer fired
    ticks: tuple[int, ...]        # requests each driver sent (each one moves the clock by REQUEST_SECONDS)
    timers: tuple[str, ...]       # each driver's timer afterwards: KEEP, NONE or ARMED at the end of its run
    counters: tuple[int, ...]     # how far each of MEMORY_COUNTERS moved
    events: tuple[Event, ...]     # what it emitted; repeats are summarised from these


@dataclass
class Clocks:
    """The only state a repeated firing changes besides the counters."""

    now: float
    timers: list[float | None]
    backoff: list[float]          # seconds, as the driver computes them (retry_timer_ms / 1000)
    broken: list[bool]

    def next_timer(self) -> float | None:
        live = [t for t, b in zip(self.timers, self.broken) if t is not None and not b]
        return min(live) if live else None

    def fired_at(self, t: float) -> tuple[float, tuple[int, ...]]:
        """Machine.advance: the clock moves to the timer, every expired timer fires."""
        now = max(self.now, t)
        return now, tuple(i for i, x in enumerate(self.timers) if x is not None and x <= now)

    def fire(self, f: Firing, t: float) -> None:
        """Exactly the clock operations of Machine.advance + settle for a firing like ``f``."""
        self.now, fired = self.fired_at(t)
        for i in fired:
            self.timers[i] = None
        for i, (ticks, timer) in enumerate(zip(f.ticks, f.timers)):
            for _ in range(ticks):
                self.now += REQUEST_SECONDS
            if timer == ARMED:
                self.timers[i] = self.now + self.backoff[i]
            elif timer == NONE:
                self.timers[i] = None


def repeat_one_timer(timer: float, ticks: int, backoff: float, until: float, before: float) -> tuple[int, float, float]:
    """Fire one timer while it is <= ``until`` and < ``before``; each firing moves the clock to
    the timer, adds REQUEST_SECONDS ``ticks`` times and re-arms the timer ``backoff`` later.

    Returns (firings, the timer afterwards, the time of the last firing), bit for bit what the
    float loop gives: within one binade [2^e, 2^(e+1)) every float is a multiple of the same ulp,
    so each addition adds a constant number of ulps (rounding is never a tie there) and n firings
    are one multiplication; the firing that crosses into the next binade is done as floats.
    """
    count, last = 0, math.nan
    while timer <= until and timer < before:
        step = _binade_step(timer, ticks, backoff)
        n = 0
        if step is not None:
            m, d, ulp = step
            n_bin = (2 ** 53 - 1 - m) // d                          # results stay inside the binade
            n_until = math.floor((Fraction(until) / ulp - m) / d) + 1
            n_before = math.ceil((Fraction(before) / ulp - m) / d) if before != math.inf else n_bin
            n = max(0, min(n_bin, n_until, n_before))
        if n:
            last = float((m + (n - 1) * d) * ulp)
            timer = float((m + n * d) * ulp)
            count += n
            continue
        last, now = timer, timer
        for _ in range(ticks):
            now += REQUEST_SECONDS
        timer = now + backoff
        count += 1
    return count, timer, last


def _binade_step(x: float, ticks: int, backoff: float) -> tuple[int, int, Fraction] | None:
    """(x in ulps, ulps per firing, the ulp) if every addition of a firing at x adds a constant
    number of ulps; None where a rounding tie or an inexact backoff could break that."""
    if not (x > 0 and math.isfinite(x)):
        return None
    _, e = math.frexp(x)                     # x in [2^(e-1), 2^e)
    ulp = Fraction(2) ** (e - 53)
    tick = Fraction(REQUEST_SECONDS) / ulp
    if tick.denominator == 2:                # exactly half an ulp: the rounding depends on x's last bit
        return None
    back = Fraction(backoff) / ulp
    if back.denominator != 1:
        return None
    return int(Fraction(x) / ulp), ticks * round(tick) + int(back), ulp


@dataclass
class Watch:
    """The machine just before a real firing, to see whether the firing changed anything."""

    shape: str
    clocks: Clocks
    requests: list[int]
    counters: tuple[int, ...]
    n_events: int


@dataclass
class IdenticalRetries:
    """Remembers firings that changed nothing and carries later identical ones forward."""

    machine: Machine
    target: float
    shape: str | None = None                           # digest of the machine as it is now
    known: dict[tuple[int, ...], Firing] = field(default_factory=dict)

    def _clocks(self) -> Clocks:
        m = self.machine
        return Clocks(m.clock.t, [d.timer_at for d in m.drivers], [d.retry_timer_ms / 1000 for d in m.drivers],
                      [bool(d.broken) for d in m.drivers])

    def _shape(self) -> str:
        return digest(self.machine, VOLATILE)

    # ----- watching real firings --------------------------------------------------------------
    def watch(self, t: float) -> Watch | None:
        """Before the real firing at ``t``: None unless it could repeat (every driver it fires
        has reached the capped backoff, so firing cannot double it)."""
        m = self.machine
        clocks = self._clocks()
        _, fired = clocks.fired_at(t)
        if any(m.drivers[i].retry_timer_ms != RETRY_TIMER_MAX_MS for i in fired) or m.busy():
            self.shape = None
            return None
        shape = self.shape or self._shape()
        return Watch(shape, clocks, [d.requests for d in m.drivers], self._counters(), len(m.pending))

    def _counters(self) -> tuple[int, ...]:
        return tuple(getattr(self.machine.mem, name) for name in MEMORY_COUNTERS)

    def seen(self, w: Watch | None, t: float) -> None:
        """After the real firing: remember it if it changed nothing and its clock operations are
        the ones ``Clocks.fire`` replays (checked on this very firing)."""
        if w is None:
            return
        m = self.machine
        self.shape = self._shape()
        if self.shape != w.shape:
            self.known.clear()
            return
        _, fired = w.clocks.fired_at(t)
        after = self._clocks()
        timers = tuple(NONE if a is None else KEEP if i not in fired and a == b else ARMED
                       for i, (a, b) in enumerate(zip(after.timers, w.clocks.timers)))
        f = Firing(fired, tuple(d.requests - r for d, r in zip(m.drivers, w.requests)), timers,
                   tuple(a - b for a, b in zip(self._counters(), w.counters)), tuple(m.pending[w.n_events:]))
        replayed = Clocks(w.clocks.now, list(w.clocks.timers), w.clocks.backoff, w.clocks.broken)
        replayed.fire(f, t)
        if replayed.now == after.now and replayed.timers == after.timers:
            self.known[fired] = f

    # ----- carrying forward -------------------------------------------------------------------
    def carry_forward(self) -> bool:
        """Do every following firing that is a known repeat, up to ``target``; True if any."""
        if not self.known:
            return False
        clocks = self._clocks()
        counts: dict[tuple[int, ...], list] = {}       # fired -> [firings, first time, last time]
        while True:
            t = clocks.next_timer()
            if t is None or t > self.target:
                break
            _, fired = clocks.fired_at(t)
            f = self.known.get(fired)
            if f is None:
                break
            n, last = self._closed_form(clocks, f, t)
            if not n:
                clocks.fire(f, t)
                n, last = 1, t
            seen = counts.setdefault(fired, [0, t, t])
            seen[0] += n
            seen[2] = last
        if not counts:
            return False
        self._write_back(clocks, counts)
        return True

    def _closed_form(self, clocks: Clocks, f: Firing, t: float) -> tuple[int, float]:
        """Many firings of a lone timer at once (see ``repeat_one_timer``); (0, nan) otherwise."""
        if len(f.fired) != 1 or clocks.now > t:
            return 0, math.nan
        i = f.fired[0]
        if f.timers[i] != ARMED or any(f.ticks[j] or f.timers[j] == NONE for j in range(len(f.ticks)) if j != i):
            return 0, math.nan
        others = [x for j, x in enumerate(clocks.timers) if j != i and x is not None]
        n, timer, last = repeat_one_timer(t, f.ticks[i], clocks.backoff[i], self.target, min(others, default=math.inf))
        if n:
            now = last
            for _ in range(f.ticks[i]):
                now += REQUEST_SECONDS
            clocks.now, clocks.timers[i] = now, timer
        return n, last

    def _write_back(self, clocks: Clocks, counts: dict[tuple[int, ...], list]) -> None:
        m = self.machine
        m.clock.t = clocks.now
        for d, timer in zip(m.drivers, clocks.timers):
            d.timer_at = timer
        for fired, (n, first, last) in counts.items():
            f = self.known[fired]
            for d, ticks in zip(m.drivers, f.ticks):
                d.requests += n * ticks
            for name, delta in zip(MEMORY_COUNTERS, f.counters):
                setattr(m.mem, name, getattr(m.mem, name) + n * delta)
            for e in f.events:
                m.pending.append(Event(
                    e.kind, f"[{n} more times, t={first:.0f}s to t={last:.0f}s, each as above] "
                    f"{e.text}", last, e.device, e.memory_block, e.subblock, e.addr, e.size, e.request, e.response,
                    n * e.repeat))
