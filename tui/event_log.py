"""The event log: the latest events with their explanations; choosing one points at its block.

Columns fit the panel's width: a kind or a text that does not fit ends with "…" at a word
boundary (the highlighted event is explained in full below the table); on a resize the rows are
laid out again.
"""
from __future__ import annotations

from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable

from vmemlab.core.events import Event, Kind

from .style import QuietStatic
from .text import plural, shorten

MAX_ROWS = 400
KIND_COLOUR = {
    Kind.HOST: "#e69f00", Kind.REQUEST: "#56b4e9", Kind.BLOCK_ADDED: "#009e73", Kind.BLOCK_ONLINED: "#009e73",
    Kind.BLOCK_OFFLINED: "#cc79a7", Kind.BLOCK_REMOVED: "#cc79a7", Kind.FAKE_OFFLINE: "#cc79a7",
    Kind.FAKE_OFFLINE_FAILED: "#ff6b6b", Kind.OOM: "#ff6b6b", Kind.ERROR: "#ff6b6b", Kind.NOTE: "#f0e442",
    Kind.DRIVER: "#bdbdbd", Kind.RETRY: "#f0c060",
}
TIME_W, BLOCK_W = 8, 11
KIND_W = max(len(k.value) for k in Kind)


def column_widths(width: int) -> tuple[int, int, int, int]:
    """(time, block, kind, text) for a table ``width`` cells wide (each column has 2 cells of
    padding); narrow tables drop the time (the explanation line shows it) and shorten kinds."""
    time_w = TIME_W if width >= 100 else 0
    kind_w = KIND_W if width >= 90 else 14
    used = (time_w + 2 if time_w else 0) + BLOCK_W + 2 + kind_w + 2
    return time_w, BLOCK_W, kind_w, max(10, width - used - 2 - 1)     # 1: the scrollbar


class EventLog(Vertical):
    """A table of the last MAX_ROWS events and a wrapped explanation of the highlighted one."""

    class EventChosen(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._events: list[Event] = []   # the events the table shows (references, not copies)
        self._total = 0
        self._widths: tuple[int, int, int, int] | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=False, id="event-table")
        yield QuietStatic(id="event-explain")

    def _columns(self, width: int) -> bool:
        """Lay the columns out for ``width``; True when they changed (the rows must be rebuilt)."""
        widths = column_widths(width)
        if widths == self._widths:
            return False
        self._widths = widths
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.show_header = width >= 90          # narrow: one more row of events instead
        time_w, block_w, kind_w, text_w = widths
        if time_w:
            table.add_column("t (s)", key="time", width=time_w)
        table.add_column("block", key="block", width=block_w)
        table.add_column("kind", key="kind", width=kind_w)
        table.add_column("what happened", key="text", width=text_w)
        return True

    def show(self, events: list[Event], timeline: str = "") -> None:
        """Show the tail of ``events``; appends when the log only grew, rebuilds after undo."""
        table = self.query_one(DataTable)
        relaid = self._columns(self.content_size.width or 80)
        grew = (not relaid and self._events and len(events) >= self._total
                and events[self._total - 1] is self._events[-1])
        new = events[self._total:] if grew else events[-MAX_ROWS:]
        if not grew or len(self._events) + len(new) > MAX_ROWS:
            table.clear()
            self._events = []
            new = events[-MAX_ROWS:]
        table.add_rows([self._row(e) for e in new])
        self._events += new
        self._total = len(events)
        self.border_subtitle = (f"{timeline} · " if timeline else "") + plural(len(events), "event") + \
            (f", last {MAX_ROWS} shown" if len(events) > MAX_ROWS else "")
        if self._events:
            if new or relaid:
                table.move_cursor(row=len(self._events) - 1, animate=False, scroll=True)
                self._explain(self._events[-1])
        else:
            self.query_one("#event-explain", QuietStatic).show_text(Text(""))

    def on_resize(self, event: Resize) -> None:
        """New widths: the same events laid out again (cut to the new columns)."""
        if self._widths is not None and self.content_size.width and self._columns(self.content_size.width):
            table = self.query_one(DataTable)
            table.add_rows([self._row(e) for e in self._events])
            if self._events:
                table.move_cursor(row=len(self._events) - 1, animate=False, scroll=True)

    def _row(self, e: Event) -> tuple:
        time_w, block_w, kind_w, text_w = self._widths or column_widths(80)
        colour = KIND_COLOUR.get(e.kind, "#bdbdbd")
        cells = [f"memory{e.memory_block}" if e.memory_block >= 0 else "",
                 Text(shorten(e.kind.value, kind_w, "_"), style=RichStyle(color=colour)), shorten(e.text, text_w)]
        return tuple(([f"{e.time:8.3f}"] if time_w else []) + cells)

    def _explain(self, e: Event) -> None:
        t = Text()
        t.append(f"{e.kind.value} ", RichStyle(color=KIND_COLOUR.get(e.kind, "#bdbdbd"), bold=True))
        t.append(f"t={e.time:.3f}s" + (f" memory{e.memory_block}" if e.memory_block >= 0 else "") + "  ",
                 RichStyle(color="#8a8a8a"))
        t.append(e.explain())
        self.query_one("#event-explain", QuietStatic).show_text(t)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        message.stop()
        if 0 <= message.cursor_row < len(self._events):
            event = self._events[message.cursor_row]
            self._explain(event)
            if self.query_one(DataTable).has_focus:
                self.post_message(self.EventChosen(event))

    @property
    def shown(self) -> list[Event]:
        return list(self._events)
