"""Events and the EventLog: the log reads exactly like the list of events it stands for, whatever
part of it is packed (small blocks here, so every test packs and unpacks)."""
import gc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmemlab.core import events as ev
from vmemlab.core.actions import make
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Event, EventLog, EventRange, Kind
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.units import GiB


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(ev, "BLOCK", 4)
    monkeypatch.setattr(ev, "LIVE", 6)


def event(i: int) -> Event:
    kinds = list(Kind)
    return Event(kinds[i % len(kinds)], f"event {i} says \u00e9 {'x' * (i % 7)}", i * 0.001, "vmem0" if i % 2 else "",
                 1024 + i, i % 64 - 1, i << 21, (i % 3) << 21, "PLUG" if i % 5 == 0 else "",
                 "ACK" if i % 5 == 0 else "", 1 + i % 2, "MIXED" if i % 11 == 0 else "")


ops = st.lists(st.one_of(
    st.tuples(st.just("extend"), st.integers(0, 13), st.booleans()),
    st.tuples(st.just("append"), st.just(1)),
    st.tuples(st.just("truncate"), st.integers(0, 60)),
    st.tuples(st.just("read"), st.integers(-70, 70), st.integers(-70, 70))), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_log_reads_like_the_list_it_stands_for(small_blocks, script):
    log, ref, made = EventLog(), [], 0
    for op in script:
        if op[0] in ("extend", "append"):
            new = [event(made + k) for k in range(op[1])]
            made += op[1]
            paused = op[0] == "extend" and op[2]        # with the collector paused events stay objects
            if paused:
                gc.disable()
            try:
                log.extend(new) if op[0] == "extend" else log.append(new[0])
            finally:
                gc.enable()
            ref.extend(new)
        elif op[0] == "truncate":
            log.truncate(min(op[1], len(ref)))
            del ref[op[1]:]
        else:
            a, b = op[1], op[2]
            assert list(log[a:b]) == ref[a:b]
            assert list(log[a:]) == ref[a:] and list(log[:b]) == ref[:b]
            if -len(ref) <= a < len(ref):
                assert log[a] == ref[a]
            else:
                with pytest.raises(IndexError):
                    log[a]
            start, stop, _ = slice(a, b).indices(len(ref))
            want = ev._count_kinds(ref[a:b])
            assert log.kind_counts(start, max(start, stop)) == want and list(want) == list(log.kind_counts(start, max(start, stop)))
            assert ev.kind_counts(log) == ev.kind_counts(ref)
            part = log[a:]
            if isinstance(part, EventRange):
                assert ev.kind_counts(part) == ev.kind_counts(ref[a:])
                assert list(part[1:b]) == ref[a:][1:b] and list(reversed(part)) == ref[a:][::-1]
        assert len(log) == len(ref) and bool(log) == bool(ref)
        assert list(log) == ref and list(reversed(log)) == ref[::-1] and log == ref


def test_packed_events_are_equal_field_for_field_and_stay_the_same_object_while_read(small_blocks):
    events = [event(i) for i in range(40)]
    log = EventLog(events)
    assert log._blocks and len(log._tail) < 6 + 4
    for i, e in enumerate(events):
        assert log[i] == e and log[i].kind is e.kind and log[i].to_dict() == e.to_dict()
    assert log[1] is log[1]


def test_long_slices_are_views_and_short_ones_lists(small_blocks):
    log = EventLog([event(i) for i in range(17)])
    assert isinstance(log[:], EventRange) and len(log[:]) == len(log)
    assert isinstance(log[-4:], list) and isinstance(log[2:5], list) and isinstance(log[-5:], EventRange)
    assert [e.text for e in [event(-1)] + log[:]][1:] == [e.text for e in log]


def test_the_log_holds_nothing_the_garbage_collector_walks():
    """Logged events are rows of plain values, packed or not: a long drain's log does not
    lengthen the collector's passes (they paused a view for up to 0.8 s)."""
    log = EventLog()
    gc.collect()
    before = len(gc.get_objects())
    for k in range(20):
        log.extend(event(i) for i in range(k * 1000, (k + 1) * 1000))
    gc.collect()
    assert len(log) == 20_000
    assert len(gc.get_objects()) - before < 100


def lazy_text(n: int, word: str) -> str:
    lazy_text.calls += 1
    return f"{n} {word}s"


lazy_text.calls = 0
LAZY = ev.text_formatter(lazy_text)


def test_a_lazy_text_is_built_when_read_packed_or_not(small_blocks):
    events = [Event(Kind.REQUEST, (LAZY, i, "page"), float(i)) for i in range(30)]
    log = EventLog(events)
    assert lazy_text.calls == 0 and log._blocks
    assert [e.text for e in log] == [f"{i} pages" for i in range(30)]
    assert log[3] == Event(Kind.REQUEST, "3 pages", 3.0) and log[-1].to_dict()["text"] == "29 pages"
    assert log[-1] is log[-1]


def test_sandbox_time_travel_over_a_packed_log_equals_a_replay(small_blocks):
    cfg = MachineConfig(seed=3, devices=(DeviceConfig(region_size=2 * GiB),))
    sb = Sandbox(cfg, snapshot_policy="never")
    for size in ("1G", "256M", "2G", "0"):
        sb.apply(make("request", size=size), settle=True)
    texts = [e.text for e in sb.events]
    assert sb.events._blocks
    sb.goto(2)
    fresh = Sandbox(cfg)
    fresh.apply(make("request", size="1G"), settle=True)
    fresh.apply(make("request", size="256M"), settle=True)
    assert [e.text for e in sb.events] == [e.text for e in fresh.events]
    while sb.redo():
        pass
    assert [e.text for e in sb.events] == texts
    assert list(sb.last_events()) == list(sb.events[sb.entries[-1].first_event:])


def test_an_event_read_by_index_stays_the_same_object_while_new_events_are_read_in_slices():
    """Views key caches on event identity (the web page's change marks on the first event of the
    change): reading the new events in slices, however many, does not replace it."""
    log = EventLog([event(i) for i in range(10)])
    first = log[0]
    for k in range(3 * ev._RECENT // 100):
        log.extend(event(i) for i in range(100))
        assert len(log[len(log) - 100:]) == 100 and log[0] is first

