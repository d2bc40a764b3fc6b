"""Read-only summaries for views: one implementation of what the TUI and web pages show.

States are given as small integer codes (numpy arrays, vectorised), each with a label, a
glyph and a colour from a colour-blind-safe palette (Okabe-Ito), so every view shows a state
by colour *and* glyph.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .driver_bbm import BbState
from .driver_sbm import MbState, SbmDriver
from .events import Event, Kind
from .machine import Machine, Metrics
from .memory import PAGES_PER_CHUNK, ZONE_NAMES, Page, Zone
from .units import format_size, human, readable_size


WINDOW_CHUNKS = 1 << 20    # whole-region summaries are computed in pieces of this many chunks

# A memory block's state in a view is the driver's SBM state; BBM's big-block states are mapped
# onto the same codes (see block_cells), so every view colours both modes alike.
Cell = MbState


@dataclass(frozen=True)
class Style:
    label: str
    glyph: str
    colour: str   # hex, Okabe-Ito palette


CELL_STYLE: dict[Cell, Style] = {
    Cell.UNUSED: Style("unused (not plugged)", "·", "#ffffff"),
    Cell.PLUGGED: Style("plugged, not added", "P", "#000000"),
    Cell.OFFLINE: Style("offline", "o", "#e69f00"),
    Cell.OFFLINE_PARTIAL: Style("offline, partly plugged", "◐", "#f3cf86"),
    Cell.KERNEL: Style("online kernel (Normal)", "K", "#762a83"),
    Cell.KERNEL_PARTIAL: Style("online kernel, partly plugged", "k", "#c2a5cf"),
    Cell.MOVABLE: Style("online movable", "M", "#1b7837"),
    Cell.MOVABLE_PARTIAL: Style("online movable, partly plugged", "m", "#a6dba0"),
}
HIGHLIGHT_STYLE = {          # the colours of the marks below: pink = the step took memory
    "removed": Style("just removed", "x", "#cc79a7"),
    "offlining": Style("being offlined", "~", "#cc79a7"),
}


class Chunk(IntEnum):
    """State of one 2 MiB chunk (subblock on x86-64)."""

    ABSENT = 0        # block not added: no memmap
    UNPLUGGED = 1     # block added, chunk unplugged: PageOffline
    OFFLINE = 2       # plugged, block offline
    FREE = 3          # online, all pages free
    MOVABLE = 4       # online, holds movable pages (and no unmovable ones)
    UNMOVABLE = 5     # online, holds at least one unmovable page


CHUNK_STYLE: dict[Chunk, Style] = {
    Chunk.ABSENT: Style("not added (no memmap)", " ", "#ffffff"),
    Chunk.UNPLUGGED: Style("unplugged (PageOffline)", "·", "#8c8c8c"),
    Chunk.OFFLINE: Style("plugged, offline", "o", "#e69f00"),
    Chunk.FREE: Style("online, free", "□", "#56b4e9"),
    Chunk.MOVABLE: Style("online, movable pages", "▤", "#0072b2"),
    Chunk.UNMOVABLE: Style("online, unmovable pages", "■", "#99000d"),
}
# How the palettes were chosen (tests/test_web_palette.py checks each rule):
# - one meaning per colour across both legends: white is "no memory block here" in both, orange
#   "offline" in both; every other colour appears once;
# - "not added" and "unplugged" differ by 3.4:1 in contrast (visible on a washed-out projector);
# - "plugged, offline" and "online, unmovable pages" differ by lightness (3.6:1 also for
#   deuteranopes), and the glyphs tell every state apart without colour.


def block_cells(m: Machine, dev: int) -> np.ndarray:
    """One Cell code per memory block of device ``dev`` (vectorised)."""
    drv = m.drivers[dev]
    if isinstance(drv, SbmDriver):
        return drv.mb_state.astype(np.uint8)
    mem = m.mem
    sl = slice(drv.mb_off, drv.mb_off + drv.n_mb)
    bb = np.repeat(drv.bb_state, drv.mbs_per_bb)
    out = np.full(drv.n_mb, Cell.UNUSED, dtype=np.uint8)
    out[bb == int(BbState.PLUGGED)] = Cell.PLUGGED
    present = mem.mb_present[sl]
    online = mem.mb_online[sl]
    movable = mem.mb_zone[sl] == int(Zone.MOVABLE)
    out[present & ~online] = Cell.OFFLINE
    out[present & online & ~movable] = Cell.KERNEL
    out[present & online & movable] = Cell.MOVABLE
    return out


def _chunk_codes(mem, sl: slice, present: np.ndarray) -> np.ndarray:
    """Chunk codes for the chunks ``sl``; ``present``: per chunk, is its memory block added."""
    out = present.astype(np.uint8)                         # ABSENT 0 / UNPLUGGED 1
    out += mem.plugged[sl] & present                       # OFFLINE 2
    online = mem.chunk_online[sl]
    if online.any():                                       # FREE 3, MOVABLE 4, UNMOVABLE 5
        p = mem.pages[:, sl]
        movable = (p[Page.ANON] | p[Page.CACHE]) != 0
        unmovable = (p[Page.RESERVED] | p[Page.MEMMAP] | p[Page.KERNEL] | p[Page.SLAB]) != 0
        extra = np.maximum(movable.view(np.uint8), unmovable.view(np.uint8) << 1) + 1
        out += online.view(np.uint8) * extra
    return out


def chunk_cells(m: Machine, dev: int) -> np.ndarray:
    """One Chunk code per 2 MiB chunk of device ``dev``'s region, shape (memory blocks, chunks per block).

    Only memory blocks that are added are read (the others are ABSENT), in pieces, so a 64 TiB
    region with little plugged costs little and needs no region-sized temporaries."""
    mem = m.mem
    drv = m.drivers[dev]
    cpm = mem.chunks_per_mb
    out = np.zeros((drv.n_mb, cpm), dtype=np.uint8)
    present = mem.mb_present[drv.mb_off:drv.mb_off + drv.n_mb]
    blocks = np.flatnonzero(present)
    if not len(blocks):
        return out
    step = max(1, WINDOW_CHUNKS // cpm)
    first, last = int(blocks[0]), int(blocks[-1]) + 1
    for a in range(first, last, step):
        b = min(last, a + step)
        sl = slice(drv.seg.chunk_off + a * cpm, drv.seg.chunk_off + b * cpm)
        out[a:b] = _chunk_codes(mem, sl, np.repeat(present[a:b], cpm)).reshape(-1, cpm)
    return out


def aggregate(cells: np.ndarray, max_cells: int) -> tuple[np.ndarray, int]:
    """Shrink a per-block array to at most ``max_cells`` groups; each group shows its most
    advanced state (highest code). Returns (groups, blocks per group)."""
    n = len(cells)
    per = max(1, -(-n // max(1, max_cells)))
    if per == 1:
        return cells, 1
    pad = (-n) % per
    padded = np.concatenate((cells, np.zeros(pad, dtype=cells.dtype)))
    return padded.reshape(-1, per).max(axis=1), per


def block_info(m: Machine, dev: int, local_mb: int) -> dict:
    """Everything the block-detail panel shows about one memory block."""
    drv = m.drivers[dev]
    mem = m.mem
    mb = drv.mb_off + local_mb
    sl = mem.mb_chunks(mb)
    sysfs = int(mem.mb_phys[mb])
    start = sysfs * mem.mb_size
    present = bool(mem.mb_present[mb])
    online = bool(mem.mb_online[mb])
    state = "online" if online else "offline" if present else "(no memoryN: not added)"
    free, movable, unmovable = mem.free_pages(sl), mem.movable(sl), mem.unmovable(sl)
    return {
        "device": drv.device.id,
        "memory_block": sysfs,
        "name": f"memory{sysfs}",
        "range": f"{start:#014x}-{start + mem.mb_size - 1:#014x}",
        "driver_state": drv.block_state_name(local_mb),
        "sysfs_state": state,
        "zone": ZONE_NAMES[Zone(int(mem.mb_zone[mb]))] if online else "none",
        "plugged": int(mem.plugged[sl].sum()) * (2 << 20),
        "size": mem.mb_size,
        "memmap": mem.mb_size // 64 if present else 0,
        "unmovable_pages": int(unmovable.sum()),
        "movable_pages": int(movable.sum()),
        "free_pages": int(free.sum()),
        "cells": chunk_cells_block(m, mb),
        "free_per_chunk": free,
        "movable_per_chunk": movable,
        "unmovable_per_chunk": unmovable,
    }


def chunk_cells_block(m: Machine, mb: int) -> np.ndarray:
    """Chunk codes of one memory block (global index ``mb``)."""
    mem = m.mem
    return _chunk_codes(mem, mem.mb_chunks(mb), np.full(mem.chunks_per_mb, bool(mem.mb_present[mb])))


def device_panel(m: Machine, dev: int) -> list[tuple[str, str]]:
    """Config space and driver state as (label, value) rows."""
    d = m.devices[dev]
    drv = m.drivers[dev]
    return [
        ("device", f"{d.id} (virtio-mem-pci, node {d.node_id})"),
        ("addr", f"{d.addr:#x}"),
        ("region_size", readable_size(d.region_size)),
        ("block_size", format_size(d.block_size)),
        ("requested_size", readable_size(d.requested_size)),
        ("plugged_size", readable_size(d.plugged_size)),
        ("usable_region_size", readable_size(d.usable_region_size)),
        ("migration", "running (BUSY)" if d.migrating else "no"),
        ("driver mode", f"{drv.mode}, {drv.unit_name} {format_size(drv.unit_size)}"),
        ("driver state", drv.status()),
        ("retry backoff", f"{drv.retry_timer_ms // 1000} s"),
        ("requests sent", str(drv.requests)),
    ]


def guest_panel(m: Machine) -> list[tuple[str, str]]:
    mem = m.mem
    cfg = m.config
    return [
        ("MemTotal", human(mem.mem_total)),
        ("MemFree", human(mem.mem_free)),
        ("memmap (hot-added)", human(mem.memmap_bytes)),
        ("free 2 MiB chunks", str(mem.free_chunks_2m())),
        ("auto_online_blocks", cfg.auto_online_blocks),
        ("online_policy", cfg.online_policy + (f" ({cfg.auto_movable_ratio}%)" if cfg.online_policy == "auto-movable" else "")),
        ("time", f"{m.now:.3f} s"),
    ] + ([("guest", "DEAD: " + m.guest.dead)] if m.guest.dead else [])


def highlights(events: list[Event]) -> dict[int, str]:
    """sysfs memory block -> "removed" / "offlining" for blocks the last events touched."""
    out: dict[int, str] = {}
    for e in events:
        if e.memory_block < 0:
            continue
        if e.kind == Kind.BLOCK_REMOVED:
            out[e.memory_block] = "removed"
        elif e.kind in (Kind.FAKE_OFFLINE, Kind.BLOCK_OFFLINED) and out.get(e.memory_block) != "removed":
            out[e.memory_block] = "offlining"
    return out


class Mark(IntEnum):
    """What the last change did to a memory block; a block shows the highest mark it got."""

    NONE = 0
    PLUGGED = 1       # subblocks (or a big block) plugged into an existing block
    ADDED = 2         # memoryN added (and usually onlined) by this change
    UNPLUGGED = 3     # subblocks unplugged; the block stays
    OFFLINED = 4      # offlined (fake-offlined subblocks or the whole block)
    REMOVED = 5       # memoryN offlined and removed: its memmap is freed


MARK_STYLE: dict[Mark, Style] = {       # yellow: the step gave memory; pink: it took memory
    Mark.PLUGGED: Style("just plugged", "+", "#f0e442"),
    Mark.ADDED: Style("just added", "A", "#f0e442"),
    Mark.UNPLUGGED: Style("just unplugged", "-", "#cc79a7"),
    Mark.OFFLINED: Style("just offlined", "~", "#cc79a7"),
    Mark.REMOVED: Style("just removed", "x", "#cc79a7"),
}


def block_marks(m: Machine, dev: int, events: list[Event]) -> np.ndarray:
    """One Mark per memory block of device ``dev``: what ``events`` (the last change) did to it."""
    drv = m.drivers[dev]
    first = int(m.mem.mb_phys[drv.mb_off])
    out = np.zeros(drv.n_mb, dtype=np.uint8)
    for e in events:
        if e.memory_block < 0 or (e.device and e.device != drv.device.id):
            continue
        mark = _event_mark(e)
        k = e.memory_block - first
        if mark and 0 <= k < drv.n_mb:
            if e.kind == Kind.REQUEST and e.size > m.mem.mb_size:
                span = min(drv.n_mb, k + e.size // m.mem.mb_size)
                out[k:span] = np.maximum(out[k:span], mark)
            else:
                out[k] = max(out[k], mark)
    return out


def aggregate_marks(cells: np.ndarray, marks: np.ndarray, per: int) -> np.ndarray:
    """The mark of each group of ``per`` blocks (as ``aggregate`` groups them): the highest mark
    among the blocks whose state the group shows, so a tile reads "just removed" only when the
    blocks it shows were removed, not when 8 of 128 were and the other 120 are online."""
    if per == 1:
        return marks
    pad = (-len(cells)) % per
    c = np.concatenate((cells, np.zeros(pad, dtype=cells.dtype))).reshape(-1, per)
    k = np.concatenate((marks, np.zeros(pad, dtype=marks.dtype))).reshape(-1, per)
    shown = c.max(axis=1, keepdims=True)
    return np.where(c == shown, k, 0).max(axis=1).astype(marks.dtype)


def _event_mark(e: Event) -> Mark:
    if e.kind == Kind.BLOCK_REMOVED:
        return Mark.REMOVED
    if e.kind in (Kind.FAKE_OFFLINE, Kind.BLOCK_OFFLINED):
        return Mark.OFFLINED
    if e.kind == Kind.BLOCK_ADDED:
        return Mark.ADDED
    if e.kind == Kind.REQUEST and e.response == "ACK":
        return {"PLUG": Mark.PLUGGED, "UNPLUG": Mark.UNPLUGGED}.get(e.request, Mark.NONE)
    return Mark.NONE


@dataclass(frozen=True)
class StatusItem:
    """One number of the status bar, and whether the last change moved it."""

    key: str
    label: str
    value: str
    changed: bool


def status_bar(m: Machine, dev: int, before: Metrics | None, events: list[Event]) -> list[StatusItem]:
    """Requested, plugged and usable size, MemTotal, memmap, driver state and retry timer of
    device ``dev`` (sizes summed over devices where the machine has several), each marked when
    the last change (``before`` = the metrics before it, ``events`` = its events) moved it."""
    now = m.metrics()
    d = m.devices[dev]
    drv = m.drivers[dev]
    several = len(m.devices) > 1
    timer = m.next_timer()
    kinds = {e.kind for e in events}

    def moved(field: str) -> bool:
        return before is not None and getattr(before, field) != getattr(now, field)

    def size(field: str, own: int) -> str:
        total = getattr(now, field)
        return readable_size(own) + (f" (all devices {readable_size(total)})" if several and total != own else "")

    return [
        StatusItem("requested", "requested_size", size("requested", d.requested_size), moved("requested")),
        StatusItem("plugged", "plugged_size", size("plugged", d.plugged_size), moved("plugged")),
        StatusItem("usable", "usable region", size("usable", d.usable_region_size), moved("usable")),
        StatusItem("mem_total", "MemTotal", human(now.mem_total), moved("mem_total")),
        StatusItem("memmap", "memmap", human(now.memmap), moved("memmap")),
        StatusItem("driver", f"driver ({drv.mode})", drv.status(), bool(kinds & {Kind.DRIVER, Kind.RETRY})),
        StatusItem("retry", "retry timer",
                    f"in {timer - m.now:.0f} s (backoff {drv.retry_timer_ms // 1000} s)" if timer is not None
                    else "not armed", Kind.RETRY in kinds),
    ]


def local_block(m: Machine, sysfs_id: int) -> tuple[int, int] | None:
    """(device index, local memory block) for a sysfs memory block number, or None."""
    mb = m.mem.phys_to_mb.get(sysfs_id)
    if mb is None:
        return None
    dev = int(m.mem.mb_device[mb])
    if dev < 0:
        return None
    return dev, mb - m.drivers[dev].mb_off


def free_pages_note() -> str:
    return f"{PAGES_PER_CHUNK} pages of 4 KiB per 2 MiB chunk"


def _block_names(ids: list[int]) -> str:
    """memory32..memory39, memory41 -- consecutive runs folded; at most a few names."""
    ids = sorted(set(ids))
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    names = [f"memory{r[0]}" if len(r) == 1 else f"memory{r[0]}..memory{r[-1]}" for r in runs]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more ranges" if len(names) > 3 else "")


def change_caption(label: str, events: list[Event], before: Metrics | None, now: Metrics) -> str:
    """One line for the caption over a map: what the last change (``label``, its ``events``, the
    numbers ``before`` it and ``now``) asked for and what the driver and Linux did about it."""
    parts: list[str] = []
    errors = [e for e in events if e.kind == Kind.ERROR]
    if errors:
        return f"{label}: refused, nothing changed ({errors[0].text})"
    requests: dict[tuple[str, str], int] = {}
    for e in events:
        if e.kind == Kind.REQUEST:
            requests[(e.request, e.response)] = requests.get((e.request, e.response), 0) + 1
    by_type: dict[str, list[str]] = {}
    for (req, resp), n in requests.items():
        by_type.setdefault(req, []).append(f"{n} {resp}")
    for req, answers in by_type.items():
        total = sum(int(a.split()[0]) for a in answers)
        parts.append(f"{total} {req} request{'s' if total > 1 else ''} ({', '.join(answers)})")
    if before is not None and before.plugged != now.plugged:
        parts.append(f"plugged {format_size(before.plugged)} -> {format_size(now.plugged)}")
    elif before is not None and before.requested != now.requested:
        parts.append(f"requested {format_size(before.requested)} -> {format_size(now.requested)}, "
                     f"plugged stays {format_size(now.plugged)}")
    for kind, verb in ((Kind.BLOCK_ADDED, "added"), (Kind.BLOCK_REMOVED, "removed"),
                       (Kind.BLOCK_OFFLINED, "offlined")):
        ids = [e.memory_block for e in events if e.kind == kind and e.memory_block >= 0]
        if ids:
            n = len(set(ids))
            parts.append(f"{verb} {n} memory block{'s' if n > 1 else ''} ({_block_names(ids)})")
    stuck = sum(e.kind == Kind.FAKE_OFFLINE_FAILED for e in events)
    if stuck:
        parts.append(f"{stuck} subblock{'s' if stuck > 1 else ''} could not be offlined")
    return f"{label}: " + ("; ".join(parts) if parts else "no request, no memory block changed")


# ----- the Compare tab's pictures ------------------------------------------------------------
class Guest(IntEnum):
    """State of a 2 MiB chunk of guest memory, for any of the three compared techniques."""

    ABSENT = 0        # no memory here (not plugged, no DIMM, block not added)
    HIDDEN = 1        # present but not usable: an unplugged subblock, a chunk wholly in the balloon
    SPLIT = 2         # partly in the balloon: its host huge page is split
    USABLE = 3        # memory the guest can use


GUEST_STYLE: dict[Guest, Style] = {
    Guest.ABSENT: Style("no memory (not plugged)", " ", "#ffffff"),
    Guest.HIDDEN: Style("present, not usable (unplugged, or in the balloon)", "·", "#8c8c8c"),
    Guest.SPLIT: Style("partly in the balloon (host huge page split)", "▒", "#f4a582"),
    Guest.USABLE: Style("usable", "■", "#2166ac"),
}


def guest_chunks(mem, balloon: np.ndarray | None = None) -> np.ndarray:
    """One Guest code per 2 MiB chunk of a guest's memory, in address order (vectorised)."""
    present = mem.plugged & np.repeat(mem.mb_present, mem.chunks_per_mb)
    out = np.where(present, Guest.USABLE, Guest.ABSENT).astype(np.uint8)
    out[np.repeat(mem.mb_present, mem.chunks_per_mb) & ~mem.plugged] = Guest.HIDDEN
    if balloon is not None:
        out[(balloon > 0) & present] = Guest.SPLIT
        out[(balloon >= PAGES_PER_CHUNK) & present] = Guest.HIDDEN
    return out


def fold_mode(codes: np.ndarray, rows: int) -> np.ndarray:
    """Fold a 1-D array of codes into at most ``rows`` rows, each showing its most common code
    (a balloon spread thinly over memory shows as split, not as its few usable chunks)."""
    per = max(1, -(-len(codes) // rows))
    pad = np.full((-len(codes)) % per, Guest.ABSENT, dtype=codes.dtype)
    grid = np.concatenate((codes, pad)).reshape(-1, per)
    counts = np.stack([(grid == c).sum(axis=1) for c in Guest], axis=1)
    return counts.argmax(axis=1).astype(np.uint8)


def compare_maps(session, rows: int = 48, options=None):
    """``core.compare.compare_session`` and, per technique, its guest memory after every step:
    (Comparison, {model: array of shape (rows, steps + 1)}), for pictures side by side."""
    from .compare.compare import CompareOptions, Comparison, Runner
    from .scenario import Step

    options = options or CompareOptions()
    runner = Runner(session.scenario.config, options)

    def picture() -> dict[str, np.ndarray]:
        b = runner.balloon
        return {"virtio_mem": fold_mode(guest_chunks(runner.vmem.mem), rows),
                "balloon": fold_mode(guest_chunks(b.mem, b.balloon), rows),
                "dimm": fold_mode(guest_chunks(runner.dimm.mem), rows)}

    table_rows, columns = [runner.boot_row()], [picture()]
    for i, action in enumerate(session.sandbox.actions(), start=1):
        table_rows.append(runner.play(Step(i, action)))
        columns.append(picture())
    comparison = Comparison("session", session.scenario.config.seed, options, table_rows, runner.summary)
    return comparison, {m: np.stack([c[m] for c in columns], axis=1) for m in columns[0]}
