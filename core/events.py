"""Events: what happened, as plain data, each with a sentence that explains it.

Views colour and filter events; tests assert on them; the explanation is what a student reads.
"""
from __future__ import annotations

import gc
import pickle
import zlib
from collections import Counter
from enum import Enum
from operator import attrgetter
from typing import Callable, Iterable, Iterator


class Kind(str, Enum):
    """Event kinds, named after what the real system does."""

    HOST = "host"                      # hypervisor changed something (requested size, migration, reset)
    CONFIG = "config"                  # driver read the config space
    REQUEST = "request"                # one virtio-mem request and the device's response
    BLOCK_ADDED = "block_added"        # add_memory_driver_managed(): memmap allocated, memoryN appears
    BLOCK_ONLINED = "block_onlined"    # pages handed to the buddy allocator
    BLOCK_OFFLINED = "block_offlined"
    BLOCK_REMOVED = "block_removed"    # memoryN gone, memmap freed
    FAKE_OFFLINE = "fake_offline"      # alloc_contig_range() grabbed a subblock (pages migrated)
    FAKE_OFFLINE_FAILED = "fake_offline_failed"
    MIGRATED = "migrated"
    ALLOC = "alloc"
    FREE = "free"
    OOM = "oom"
    GUEST = "guest"                    # the guest kernel as a whole: a crash and kdump, suspend/hibernation
    RETRY = "retry"                    # retry timer armed or fired
    DRIVER = "driver"                  # driver state changes: idle, waiting, broken
    ERROR = "error"                    # an action the user asked for was refused
    NOTE = "note"                      # narration from a lesson


# Explanations built when first read: an event's text may be ``(formatter id, *args)``. The
# formatter is named by its index here, not referenced, and the args are strings and numbers
# (kept flat: a tuple inside stays tracked longer), so Python's garbage collector stops
# tracking the tuple (a 4 TiB drain makes hundreds of thousands; tracked, they lengthened
# every full collection).
_FORMATTERS: list[Callable[..., str]] = []


def text_formatter(fn: Callable[..., str]) -> int:
    """Register ``fn`` as a formatter of lazy explanations; returns its id for the tuple."""
    _FORMATTERS.append(fn)
    return len(_FORMATTERS) - 1


def text_of(text: str | tuple) -> str:
    """An explanation given as text or as ``(formatter id, *args)``."""
    return text if text.__class__ is str else _FORMATTERS[text[0]](*text[1:])


FIELDS = ("kind", "text", "time", "device", "memory_block", "subblock", "addr", "size", "request", "response",
          "repeat", "state")


class Event:
    """One thing that happened at simulated time ``time`` (seconds). Treated as immutable.

    Fields (in this order, also positionally): kind, text (the explanation a student reads),
    time, device, memory_block (sysfs memoryN index, -1 if none), subblock (within the memory
    block, -1 if none), addr (-1 if none), size, request (PLUG / UNPLUG / UNPLUG_ALL / STATE),
    response (ACK / NACK / BUSY / ERROR), repeat (how many identical occurrences this event
    stands for: one per request; see core.retries and core.kdump), state (a STATE request's
    answer: PLUGGED / UNPLUGGED / MIXED).

    ``text`` may be given as a tuple ``(formatter id, *args)`` (see ``text_formatter``): the
    sentence is then built from those values the first time someone reads it. A 4 TiB drain
    emits a hundred thousand events that nobody reads one by one; building their sentences
    was a tenth of its time.
    """

    __slots__ = ("kind", "_text", "time", "device", "memory_block", "subblock", "addr", "size", "request",
                 "response", "repeat", "state")

    def __init__(self, kind: Kind, text, time: float = 0.0, device: str = "", memory_block: int = -1,
                 subblock: int = -1, addr: int = -1, size: int = 0, request: str = "", response: str = "",
                 repeat: int = 1, state: str = ""):
        self.kind = kind
        self._text = text
        self.time = time
        self.device = device
        self.memory_block = memory_block
        self.subblock = subblock
        self.addr = addr
        self.size = size
        self.request = request
        self.response = response
        self.repeat = repeat
        self.state = state

    @property
    def text(self) -> str:
        t = self._text
        if t.__class__ is tuple:
            t = self._text = _FORMATTERS[t[0]](*t[1:])
        return t

    def explain(self) -> str:
        return self.text

    def values(self) -> tuple:
        """Every field in FIELDS order (the text built)."""
        return (self.kind, self.text, self.time, self.device, self.memory_block, self.subblock, self.addr,
                self.size, self.request, self.response, self.repeat, self.state)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Event:
            return NotImplemented
        return self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]   # equal by value, like the dataclass it was

    def __repr__(self) -> str:
        return "Event(" + ", ".join(f"{k}={v!r}" for k, v in zip(FIELDS, self.values())) + ")"

    def __reduce__(self):
        return (Event, self.values())

    def to_dict(self) -> dict:
        d = dict(zip(FIELDS, self.values()))
        d["kind"] = self.kind.value
        return {k: v for k, v in d.items()
                if (v not in (-1, "", 0) or k in ("kind", "text", "time")) and not (k == "repeat" and v == 1)}


# ----- the event log ---------------------------------------------------------------------------
# An event as the log keeps it: a plain tuple of strings and numbers (the kind by its value, the
# text as given, possibly still lazy), which the garbage collector stops tracking.
_row = attrgetter("kind._value_", "_text", *FIELDS[2:])
_KINDS = {k.value: k for k in Kind}
BLOCK = 4096              # events per packed block
LIVE = 1 << 18            # the newest events stay unpacked rows; older ones are packed
_CACHED_BLOCKS = 4        # unpacked blocks kept (a view scrolling an old part of the log)
_RECENT = 8192            # events of the live part handed out one by one and kept (a view redraws them)


def _event(row: tuple | Event) -> Event:
    return Event(_KINDS[row[0]], *row[1:]) if row.__class__ is tuple else row


def _as_row(x: tuple | Event) -> tuple:
    return x if x.__class__ is tuple else _row(x)


def _pack(rows: list[tuple]) -> bytes:
    return zlib.compress(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(blob: bytes) -> list[Event]:
    return list(map(_event, pickle.loads(zlib.decompress(blob))))


def _count_kinds(rows: Iterable[tuple | Event]) -> Counter:
    return Counter(r[0] if r.__class__ is tuple else r.kind.value for r in rows)


def kind_counts(events: EventLog | EventRange | list[Event]) -> Counter:
    """Events per kind value, in order of first appearance; a log or a range of one counts
    without building events."""
    if isinstance(events, EventLog):
        return events.kind_counts(0, len(events))
    if isinstance(events, EventRange):
        return events.log.kind_counts(events.start, events.stop)
    return _count_kinds(events)


class EventLog:
    """Every event of a timeline, in order: a list of Events to its readers, bounded in memory.

    A 4 TiB drain logs millions of events. As Event objects they cost about 450 bytes each, and
    every full pass of Python's cyclic garbage collector walks every one of them (pauses of up
    to 0.8 s that froze a view). So the log keeps no Event objects: an event is stored as a row,
    a plain tuple of its values that the collector does not track, and only the newest ``LIVE``
    rows stay so; older ones are packed ``BLOCK`` at a time (pickled and zlib-compressed:
    about 30 bytes an event). Reading an event builds an Event equal to the one logged, field
    for field; the events read last are kept, so a view that draws the same event twice gets
    the same object. Indexing and slicing read like a list: a slice of up to ``BLOCK`` events
    is a list, a longer one an ``EventRange`` view that builds events only as they are read.
    """

    __slots__ = ("_blocks", "_kinds", "_tail", "_cache", "_recent")

    def __init__(self, events: Iterable[Event] = ()):
        self._blocks: list[bytes] = []
        self._kinds: list[Counter] = []      # per packed block: events per kind value
        self._tail: list[tuple] = []
        self._cache: dict[int, list[Event]] = {}
        self._recent: dict[int, Event] = {}
        self.extend(events)

    # ----- writing --------------------------------------------------------------------------
    def append(self, event: Event) -> None:
        self.extend((event,))

    def extend(self, events: Iterable[Event]) -> None:
        # rows spare the garbage collector; while it is paused (``vmemlab run``) they would
        # only cost time, so the events stay as they are until they are packed
        self._tail.extend(map(_row, events) if gc.isenabled() else events)
        if len(self._tail) >= LIVE + BLOCK:
            self._pack_old()

    def _pack_old(self) -> None:
        n = (len(self._tail) - LIVE) // BLOCK
        for k in range(n):
            rows = [_as_row(x) for x in self._tail[k * BLOCK:(k + 1) * BLOCK]]
            self._kinds.append(_count_kinds(rows))
            self._blocks.append(_pack(rows))
        del self._tail[:n * BLOCK]
        self._recent.clear()

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` events (going back in time drops the rest)."""
        packed = len(self._blocks) * BLOCK
        self._recent = {i: e for i, e in self._recent.items() if i < n}
        if n >= packed:
            del self._tail[n - packed:]
            return
        b = n // BLOCK
        self._tail = pickle.loads(zlib.decompress(self._blocks[b]))[:n - b * BLOCK]     # rows
        del self._blocks[b:]
        del self._kinds[b:]
        self._cache = {k: v for k, v in self._cache.items() if k < b}

    def clear(self) -> None:
        self.truncate(0)

    # ----- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._blocks) * BLOCK + len(self._tail)

    def __bool__(self) -> bool:
        return bool(self._tail) or bool(self._blocks)

    def _block(self, b: int) -> list[Event]:
        """Block ``b`` unpacked; the last few stay cached."""
        events = self._cache.pop(b, None)
        if events is None:
            events = _unpack(self._blocks[b])
            if len(self._cache) >= _CACHED_BLOCKS:
                del self._cache[next(iter(self._cache))]
        self._cache[b] = events
        return events

    def _get(self, i: int) -> Event:
        """Event ``i`` (0 <= i < len), the same object as the last time while it is kept."""
        packed = len(self._blocks) * BLOCK
        if i < packed:
            return self._block(i // BLOCK)[i % BLOCK]
        e = self._recent.get(i)
        if e is None:
            if len(self._recent) >= _RECENT:
                del self._recent[next(iter(self._recent))]      # the one handed out longest ago
            e = self._recent[i] = _event(self._tail[i - packed])
        return e

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return [self._get(i) for i in range(start, stop, step)]
            if stop - start <= BLOCK:       # built anew: a view re-reading new events keeps no cache busy
                return list(self.iter_range(start, stop))
            return EventRange(self, start, stop)
        i = key.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("event index out of range")
        return self._get(i)

    def iter_range(self, start: int, stop: int) -> Iterator[Event]:
        """Events start..stop-1 in order, built as they are read (a long read keeps none)."""
        packed = len(self._blocks) * BLOCK
        i = start
        while i < min(stop, packed):
            b = i // BLOCK
            events = self._cache.get(b) or _unpack(self._blocks[b])
            end = min(stop, (b + 1) * BLOCK)
            yield from events[i - b * BLOCK:end - b * BLOCK]
            i = end
        if stop > packed:
            yield from map(_event, self._tail[max(0, start - packed):stop - packed])

    def __iter__(self) -> Iterator[Event]:
        return self.iter_range(0, len(self))

    def kind_counts(self, start: int, stop: int) -> Counter:
        """Events per kind value among events start..stop-1, without building them: whole packed
        blocks were counted when packed (a view summarising the middle of a 2-million-event
        step read every event, 1.4 s per repaint)."""
        counts: Counter = Counter()
        packed = len(self._blocks) * BLOCK
        i = start
        while i < min(stop, packed):
            b = i // BLOCK
            end = min(stop, (b + 1) * BLOCK)
            counts.update(self._kinds[b] if end - i == BLOCK else
                          _count_kinds(pickle.loads(zlib.decompress(self._blocks[b]))[i - b * BLOCK:end - b * BLOCK]))
            i = end
        if stop > packed:
            counts.update(_count_kinds(self._tail[max(0, start - packed):stop - packed]))
        return counts

    def __reversed__(self) -> Iterator[Event]:
        for i in range(len(self) - 1, -1, -1):
            yield self._get(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (EventLog, EventRange, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __add__(self, other: Iterable[Event]) -> list[Event]:
        return list(self) + list(other)

    def __radd__(self, other: Iterable[Event]) -> list[Event]:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return f"EventLog({len(self)} events, {len(self._blocks)} blocks packed)"

    def packed_bytes(self) -> int:
        """What the packed blocks hold (for the docs' memory figures)."""
        return sum(len(b) for b in self._blocks)


class EventRange:
    """A read-only view of events start..stop-1 of an EventLog: a long slice that builds its
    events only as they are read. Reads like a list of Events (len, index, slice, iterate);
    ``list(r)`` makes one."""

    __slots__ = ("log", "start", "stop")

    def __init__(self, log: EventLog, start: int, stop: int):
        self.log, self.start, self.stop = log, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __bool__(self) -> bool:
        return self.stop > self.start

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.log[self.start + start:self.start + max(start, stop)]
        i = key.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("event index out of range")
        return self.log._get(self.start + i)

    def __iter__(self) -> Iterator[Event]:
        return self.log.iter_range(self.start, self.stop)

    def __reversed__(self) -> Iterator[Event]:
        for i in range(self.stop - 1, self.start - 1, -1):
            yield self.log._get(i)

    __eq__ = EventLog.__eq__
    __add__ = EventLog.__add__
    __radd__ = EventLog.__radd__

    def __repr__(self) -> str:
        return f"EventRange({self.start}..{self.stop} of {self.log!r})"
