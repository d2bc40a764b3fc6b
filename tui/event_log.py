"""The event log: the latest events with their explanations; choosing one points at its block."""
from __future__ import annotations

from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from vmemlab.core.events import Event, Kind

MAX_ROWS = 400
KIND_COLOUR = {
    Kind.HOST: "#e69f00", Kind.REQUEST: "#56b4e9", Kind.BLOCK_ADDED: "#009e73", Kind.BLOCK_ONLINED: "#009e73",
    Kind.BLOCK_OFFLINED: "#cc79a7", Kind.BLOCK_REMOVED: "#cc79a7", Kind.FAKE_OFFLINE: "#cc79a7",
    Kind.FAKE_OFFLINE_FAILED: "#ff6b6b", Kind.OOM: "#ff6b6b", Kind.ERROR: "#ff6b6b", Kind.NOTE: "#f0e442",
    Kind.DRIVER: "#bdbdbd", Kind.RETRY: "#f0c060",
}


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

    def compose(self) -> ComposeResult:
        table = DataTable(cursor_type="row", zebra_stripes=False, id="event-table")
        table.add_column("t (s)", key="time", width=8)
        table.add_column("block", key="block", width=11)
        table.add_column("kind", key="kind", width=13)
        table.add_column("what happened", key="text")
        yield table
        yield Static(id="event-explain")

    def show(self, events: list[Event], timeline: str = "") -> None:
        """Show the tail of ``events``; appends when the log only grew, rebuilds after undo."""
        table = self.query_one(DataTable)
        grew = (self._events and len(events) >= self._total
                and events[self._total - 1] is self._events[-1])
        new = events[self._total:] if grew else events[-MAX_ROWS:]
        if not grew or len(self._events) + len(new) > MAX_ROWS:
            table.clear()
            self._events = []
            new = events[-MAX_ROWS:]
        table.add_rows([self._row(e) for e in new])
        self._events += new
        self._total = len(events)
        self.border_subtitle = (f"{timeline} · " if timeline else "") + f"{len(events)} events" + \
            (f", last {MAX_ROWS} shown" if len(events) > MAX_ROWS else "")
        if self._events:
            table.move_cursor(row=len(self._events) - 1, animate=False, scroll=True)
            self._explain(self._events[-1])
        else:
            self.query_one("#event-explain", Static).update("")

    @staticmethod
    def _row(e: Event) -> tuple:
        colour = KIND_COLOUR.get(e.kind, "#bdbdbd")
        return (f"{e.time:8.3f}", f"memory{e.memory_block}" if e.memory_block >= 0 else "",
                Text(e.kind.value, style=RichStyle(color=colour)), e.text)

    def _explain(self, e: Event) -> None:
        t = Text()
        t.append(f"{e.kind.value} ", RichStyle(color=KIND_COLOUR.get(e.kind, "#bdbdbd"), bold=True))
        t.append(f"t={e.time:.3f}s" + (f" memory{e.memory_block}" if e.memory_block >= 0 else "") + "  ",
                 RichStyle(color="#8a8a8a"))
        t.append(e.explain())
        self.query_one("#event-explain", Static).update(t)

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
