"""The status bar (always on screen) and the side panels: the device's config space and driver,
the guest's meminfo, and metrics."""
from __future__ import annotations

import numpy as np
from rich.style import Style as RichStyle
from rich.text import Text

from vmemlab.core.machine import Metrics
from vmemlab.core.units import human
from vmemlab.core.view import CELL_STYLE, Cell, StatusItem

from .style import MAP_TILES, QuietStatic, flowed
from .text import plural, shorten

KEY = RichStyle(color="#8a8a8a")
SPARK = np.array(list("▁▂▃▄▅▆▇█"))
REQUESTED_COLOUR = "#e69f00"
PLUGGED_COLOUR = "#56b4e9"
ATTENTION = {"requested_size": REQUESTED_COLOUR, "plugged_size": PLUGGED_COLOUR}


CHANGED = RichStyle(color="#000000", bgcolor="#f0e442", bold=True)
STATUS_VALUE = RichStyle(bold=True)
SHORT_LABELS = {"requested": "requested", "plugged": "plugged", "usable": "usable", "mem_total": "MemTotal",
                "memmap": "memmap", "retry": "retry"}
# Rows of the side panels that the status bar already shows (it is always on screen).
IN_STATUS_BAR = {"requested_size", "plugged_size", "usable_region_size", "driver state", "MemTotal",
                 "memmap (hot-added)"}


def status_text(items: list[StatusItem], width: int) -> Text:
    """``core.view.status_bar`` items flowed into lines of ``width`` (never broken inside an item);
    a value the last change moved is drawn reversed on yellow, so it reads without colour too."""
    def piece(item: StatusItem) -> Text:
        label = SHORT_LABELS.get(item.key, item.label)
        value = shorten(item.value, min(44, max(8, width - len(label) - 2)))     # the events tell the rest
        return Text.assemble((label + " ", KEY), (value, CHANGED if item.changed else STATUS_VALUE))

    return flowed(map(piece, items), width, 2, Text(no_wrap=True, overflow="ellipsis"))


KEY_STYLE = RichStyle(color="#000000", bgcolor="#8a8a8a", bold=True)


def key_hints(hints: list[tuple[str, str]], width: int) -> Text:
    """``key label`` pairs on one line, the first ones first; a pair that does not fit whole
    is left out (never cut), so the most important keys survive a narrow terminal."""
    t = Text(no_wrap=True)
    used = 0
    for key, label in hints:
        size = len(key) + 2 + len(label) + (1 if used else 0)
        if used + size > width:
            continue
        if used:
            t.append(" ")
        t.append(f" {key} ", KEY_STYLE)
        t.append(f"{label}", KEY)
        used += size
    return t


class KeyBar(QuietStatic):
    """The footer: the keys that matter now (a static line: Textual's Footer rebuilt itself on
    every focus change, a tenth of a second per Tab)."""

    def show(self, hints: list[tuple[str, str]]) -> None:
        self._hints = hints
        width = self.content_size.width or 80
        self.show_text(key_hints(hints, width), key=(tuple(hints), width))

    def on_resize(self) -> None:
        self.call_after_refresh(lambda: getattr(self, "_hints", None) and self.show(self._hints))


class StatusBar(QuietStatic):
    """The numbers a user watches, always on screen, from ``core.view.status_bar``."""

    def show(self, items: list[StatusItem]) -> None:
        self._items = items
        self.show_text(status_text(items, self.content_size.width or 80), key=(tuple(items), self.content_size.width))

    def on_resize(self) -> None:
        self.call_after_refresh(self._again)

    def _again(self) -> None:
        if getattr(self, "_items", None):
            self.show(self._items)


def rows_table(rows: list[tuple[str, str]], width: int) -> Text:
    """Label/value rows, one line each; a value too long for its line ends with "…" at a word
    boundary (the events panel has the whole text), so a long state never pushes the panels
    below away. (Plain Text: a rich Table grid cost ten times more to render per key.)"""
    label_w = max((len(label) for label, _ in rows), default=0)
    room = max(8, width - label_w - 1)
    t = Text(no_wrap=True)
    for i, (label, value) in enumerate(rows):
        colour = ATTENTION.get(label)
        if label == "driver state" and value != "idle":
            colour = "#f0c060" if "broken" not in value else "#ff6b6b"
        t.append(("\n" if i else "") + label.ljust(label_w + 1), KEY)
        t.append(shorten(value, room), RichStyle(color=colour, bold=True) if colour else "")
    return t


class DevicePanel(QuietStatic):
    """``core.view.device_panel`` rows for the shown device (less what the status bar shows)."""

    def show(self, rows: list[tuple[str, str]]) -> None:
        self.border_title = f"device {rows[0][1].split()[0]}"
        shown = [r for r in rows[1:] if r[0] not in IN_STATUS_BAR]
        width = self.content_size.width or 40
        self.show_text(rows_table(shown, width), key=(shown, width))


class GuestPanel(QuietStatic):
    """``core.view.guest_panel`` rows: what /proc/meminfo and sysfs say inside the guest."""

    def show(self, rows: list[tuple[str, str]]) -> None:
        shown = [r for r in rows if r[0] not in IN_STATUS_BAR]
        width = self.content_size.width or 40
        self.show_text(rows_table(shown, width), key=(shown, width))


def sparkline(values: np.ndarray, top: int, width: int) -> str:
    """The last ``width`` values as ▁..█ against a shared ``top`` (so two lines compare)."""
    values = values[-width:]
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[np.minimum(values * 8 // (top + 1), 7)].tolist())


class MetricsPanel(QuietStatic):
    """Requested vs plugged over the timeline, and how many memory blocks are in each state."""

    def show(self, history: list[Metrics], cells: np.ndarray, region_size: int) -> None:
        width = max(8, (self.content_size.width or 30) - 20)
        requested = np.array([m.requested for m in history], dtype=np.int64)
        plugged = np.array([m.plugged for m in history], dtype=np.int64)
        top = int(max(requested.max(), plugged.max(), 1))
        t = Text()
        for label, values, colour in (("requested", requested, REQUESTED_COLOUR), ("plugged", plugged, PLUGGED_COLOUR)):
            t.append(f"{label:<10}", KEY)
            t.append(sparkline(values, top, width).ljust(width), RichStyle(color=colour))
            t.append(f" {human(int(values[-1])):>8}\n", RichStyle(color=colour, bold=True))
        t.append(f"{'':<10}{plural(len(history) - 1, 'action')}" + (f", top {human(top)}" if top > 1 else "") + "\n",
                 KEY)
        counts = np.bincount(cells, minlength=len(Cell)) if len(cells) else np.zeros(len(Cell), int)
        present = [c for c in Cell if counts[c] or c == Cell.UNUSED]
        label_w = min(30, max(len(CELL_STYLE[c].label) for c in present))
        bar_room = max(0, (self.content_size.width or 30) - label_w - 10)
        for c in present:
            n = int(counts[c])
            t.append(CELL_STYLE[c].glyph, MAP_TILES[c])
            t.append(f" {CELL_STYLE[c].label[:label_w]:<{label_w}}", KEY)
            t.append(f"{n:>6} ", RichStyle(bold=True))
            bar = n * bar_room // max(1, len(cells))
            t.append("█" * max(1 if n else 0, bar), RichStyle(color=CELL_STYLE[c].colour))
            t.append("\n")
        t.rstrip()
        self.border_subtitle = f"region {human(region_size)}"
        self.show_text(t)
