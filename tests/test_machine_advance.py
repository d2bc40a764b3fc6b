"""Machine.advance carries identical retries forward in closed form, exactly as firing them one by one.

Each case runs twice, once firing every retry for real (the reference) and once carrying the
repeats forward; the whole machine (fingerprint with the RNG), the clock, the timers, the
counters and the weighted events must be equal. The cases change state while they retry: pins
that wear off, a migration that ends, two devices whose timers interleave.
"""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmemlab.core import actions as act
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.driver import REQUEST_SECONDS, Driver
from vmemlab.core.events import Kind
from vmemlab.core.fingerprint import digest
from vmemlab.core.machine import Machine
from vmemlab.core.retries import repeat_one_timer

DAY, YEAR = 86400, 86400 * 365
SAME_STATE = frozenset({"pending", "_free_chunks", "_wm", "carry_forward_retries"})   # events, caches

CASES = {
    "migration: plug gets BUSY": (
        MachineConfig(auto_online_blocks="online_movable"),
        [("request", {"size": "1G"}), ("migration", {"on": "on"}), ("request", {"size": "2G"}),
         ("advance", {"seconds": DAY})]),
    "pins wear off during the retries, then BUSY": (
        MachineConfig(auto_online_blocks="online_movable"),
        [("request", {"size": "1G"}), ("alloc", {"size": "900M"}), ("pin", {"size": "1G", "tries": 60}),
         ("migration", {"on": "on"}), ("request", {"size": "0"}), ("advance", {"seconds": DAY})]),
    "pins wear off, the unplug completes": (
        MachineConfig(auto_online_blocks="online_movable"),
        [("request", {"size": "1G"}), ("alloc", {"size": "900M"}), ("pin", {"size": "1G", "tries": 255}),
         ("request", {"size": "0"}), ("advance", {"seconds": DAY})]),
    "unmovable pages: unplug fails for ever": (
        MachineConfig(auto_online_blocks="online_kernel"),
        [("request", {"size": "1G"}), ("fragment", {"percent": 5}), ("request", {"size": "0"}),
         ("advance", {"seconds": 30 * DAY})]),
    "two devices, interleaved timers": (
        MachineConfig(auto_online_blocks="online_movable",
                      devices=(DeviceConfig(id="a"), DeviceConfig(id="b", region_size=8 << 30))),
        [("request", {"size": "1G", "device": "a"}), ("migration", {"on": "on"}),
         ("request", {"size": "2G", "device": "a"}), ("advance", {"seconds": 77}),
         ("request", {"size": "1G", "device": "b"}), ("advance", {"seconds": 3 * DAY})]),
    "the migration ends between two advances": (
        MachineConfig(auto_online_blocks="online_movable"),
        [("migration", {"on": "on"}), ("request", {"size": "1G"}), ("advance", {"seconds": DAY}),
         ("migration", {"on": "off"}), ("advance", {"seconds": 3600}), ("migration", {"on": "on"}),
         ("request", {"size": "0"}), ("advance", {"seconds": 5 * DAY})]),
}


def play(config: MachineConfig, steps: list, one_by_one: bool) -> tuple[Machine, list]:
    m = Machine(config)
    m.carry_forward_retries = not one_by_one
    events = []
    for name, args in steps:
        act.apply(m, act.make(name, **args))
        if act.ACTIONS[name].settles:
            m.settle()
        events += m.take_events()
    return m, events


def outcome(m: Machine, events: list) -> dict:
    counts: dict[str, int] = {}
    for e in events:
        counts[e.kind.value] = counts.get(e.kind.value, 0) + e.repeat
    return {"state": digest(m, SAME_STATE), "clock": m.clock.t, "timers": [d.timer_at for d in m.drivers],
            "requests": [d.requests for d in m.drivers], "backoff": [d.retry_timer_ms for d in m.drivers],
            "version": (m.mem.version, m.mem._zone_version), "metrics": m.metrics(), "events": counts}


@pytest.mark.parametrize("case", list(CASES))
def test_carried_forward_retries_equal_firing_them_one_by_one(case):
    config, steps = CASES[case]
    reference, ref_events = play(config, steps, one_by_one=True)
    fast, fast_events = play(config, steps, one_by_one=False)
    assert outcome(fast, fast_events) == outcome(reference, ref_events)
    if "completes" not in case:                        # the repeats were summarised, not replayed
        assert len(fast_events) < len(ref_events)


def test_a_year_of_busy_retries_runs_the_driver_a_few_times(monkeypatch):
    """A year during a migration is ~105,000 retries; only the first few are run."""
    runs = []
    fired = Driver.timer_fired
    monkeypatch.setattr(Driver, "timer_fired", lambda self: (runs.append(1), fired(self))[1])
    config, steps = CASES["migration: plug gets BUSY"]
    m, events = play(config, steps[:-1] + [("advance", {"seconds": YEAR})], one_by_one=False)
    assert len(runs) <= 6
    summary = [e for e in events if e.repeat > 1]
    busy = sum(e.repeat for e in events if e.kind == Kind.REQUEST and e.response == "BUSY")
    assert busy > 105_000 and m.now >= YEAR and m.drivers[0].retry_timer_ms == 300_000
    assert summary and all("more times, t=" in e.text for e in summary)


def test_a_year_of_busy_retries_equals_the_one_by_one_reference():
    config, steps = CASES["migration: plug gets BUSY"]
    steps = steps[:-1] + [("advance", {"seconds": YEAR})]
    assert outcome(*play(config, steps, one_by_one=False)) == outcome(*play(config, steps, one_by_one=True))


def float_loop(timer: float, ticks: int, backoff: float, until: float, before: float) -> tuple[int, float, float]:
    count, last = 0, math.nan
    while timer <= until and timer < before:
        last = now = timer
        for _ in range(ticks):
            now += REQUEST_SECONDS
        timer = now + backoff
        count += 1
    return count, timer, last


@settings(max_examples=300, deadline=None)
@given(timer=st.floats(1e-3, 1e8), ticks=st.integers(0, 4),
       backoff=st.sampled_from([50.0, 100.0, 300.0, 0.75]) | st.floats(0.01, 400.0),
       firings=st.floats(0.0, 5000.0), before=st.none() | st.floats(0.0, 1.0))
def test_closed_form_timer_equals_the_float_loop_bit_for_bit(timer, ticks, backoff, firings, before):
    until = timer + firings * backoff
    limit = math.inf if before is None else timer + before * (until - timer) * 1.1
    fast = repeat_one_timer(timer, ticks, backoff, until, limit)
    slow = float_loop(timer, ticks, backoff, until, limit)
    assert fast[:2] == slow[:2] and (fast[2] == slow[2] or math.isnan(fast[2]) and math.isnan(slow[2]))
