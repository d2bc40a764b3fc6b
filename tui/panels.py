"""Side panels: the device's config space and driver, the guest's meminfo, and metrics."""
from __future__ import annotations

import numpy as np
from rich.style import Style as RichStyle
from rich.table import Table
from rich.text import Text

from vmemlab.core.machine import Metrics
from vmemlab.core.units import human
from vmemlab.core.view import CELL_STYLE, Cell

from .style import MAP_TILES, QuietStatic

KEY = RichStyle(color="#8a8a8a")
SPARK = np.array(list("▁▂▃▄▅▆▇█"))
REQUESTED_COLOUR = "#e69f00"
PLUGGED_COLOUR = "#56b4e9"
ATTENTION = {"requested_size": REQUESTED_COLOUR, "plugged_size": PLUGGED_COLOUR}


def rows_table(rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style=KEY, no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        colour = ATTENTION.get(label)
        if label == "driver state" and value != "idle":
            colour = "#f0c060" if "broken" not in value else "#ff6b6b"
        table.add_row(label, Text(value, style=RichStyle(color=colour, bold=True) if colour else ""))
    return table


class DevicePanel(QuietStatic):
    """``core.view.device_panel`` rows for the shown device."""

    def show(self, rows: list[tuple[str, str]]) -> None:
        self.border_title = f"device {rows[0][1].split()[0]}"
        self.show_text(rows_table(rows[1:]), key=rows)


class GuestPanel(QuietStatic):
    """``core.view.guest_panel`` rows: what /proc/meminfo and sysfs say inside the guest."""

    def show(self, rows: list[tuple[str, str]]) -> None:
        self.show_text(rows_table(rows), key=rows)


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
        t.append(f"{'':<10}{len(history) - 1} actions, top {human(top)}\n", KEY)
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
