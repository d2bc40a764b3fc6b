"""The event log: the latest events with their explanations; choosing one points at its block.

Columns fit the panel's width: a kind or a text that does not fit ends with "…" at a word
boundary (the highlighted event is explained in full below the list); on a resize the rows are
laid out again. The list is a ScrollView that draws each row from a cached Strip, so a key that
adds a few events repaints a few lines (Textual's DataTable re-rendered every visible row: a
third of the time of a key at 4 TiB).
"""
from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vmemlab.core.events import Event, Kind

from .style import QuietStatic
from .text import plural, shorten

MAX_ROWS = 400
KIND_COLOUR = {
    Kind.HOST: "#e69f00", Kind.REQUEST: "#56b4e9", Kind.BLOCK_ADDED: "#009e73", Kind.BLOCK_ONLINED: "#009e73",
    Kind.BLOCK_OFFLINED: "#cc79a7", Kind.BLOCK_REMOVED: "#cc79a7", Kind.FAKE_OFFLINE: "#cc79a7",
    Kind.FAKE_OFFLINE_FAILED: "#ff6b6b", Kind.OOM: "#ff6b6b", Kind.ERROR: "#ff6b6b", Kind.NOTE: "#f0e442",
    Kind.DRIVER: "#bdbdbd", Kind.RETRY: "#f0c060", Kind.GUEST: "#d55e00",
}
PLAIN_KINDS = {Kind.CONFIG, Kind.MIGRATED, Kind.ALLOC, Kind.FREE}   # routine: the list's default grey
TIME_W, BLOCK_W = 8, 11
KIND_W = max(len(k.value) for k in Kind)
DIM = RichStyle(color="#8a8a8a")
CURSOR = RichStyle(reverse=True)
HEADER = RichStyle(bold=True, color="#8a8a8a")


def column_widths(width: int) -> tuple[int, int, int, int]:
    """(time, block, kind, text) for a list ``width`` cells wide (one blank between columns);
    narrow lists drop the time (the explanation line shows it) and shorten kinds."""
    time_w = TIME_W if width >= 100 else 0
    kind_w = KIND_W if width >= 90 else 14
    used = (time_w + 1 if time_w else 0) + BLOCK_W + 1 + kind_w + 1
    return time_w, BLOCK_W, kind_w, max(10, width - used - 1)      # 1: the scrollbar


def row_text(e: Event | None, widths: tuple[int, int, int, int]) -> Text:
    """One row of the list (``None``: the header)."""
    time_w, block_w, kind_w, text_w = widths
    t = Text(no_wrap=True)
    if e is None:
        if time_w:
            t.append(f"{'t (s)':>{time_w}} ", HEADER)
        t.append(f"{'block':<{block_w}} {'kind':<{kind_w}} what happened", HEADER)
        return t
    if time_w:
        t.append(f"{e.time:{time_w}.3f} ", DIM)
    t.append(f"{f'memory{e.memory_block}' if e.memory_block >= 0 else '':<{block_w}} ")
    t.append(f"{shorten(e.kind.value, kind_w, '_'):<{kind_w}} ", RichStyle(color=KIND_COLOUR.get(e.kind, "#bdbdbd")))
    t.append(shorten(e.text, text_w))
    return t


class EventList(ScrollView, can_focus=True):
    """The rows, one cached Strip each; a cursor the keyboard moves (up/down/pgup/pgdn/home/end)."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "previous event", show=False),
        Binding("down,j", "move(1)", "next event", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("home,g", "jump(0)", show=False),
        Binding("end,G", "jump(-1)", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.events: list[Event] = []
        self.widths = column_widths(80)
        self.cursor = -1
        self._strips: dict[int, tuple[Event, Strip]] = {}     # id(event) -> (event, its line)

    def set_rows(self, events: list[Event], widths: tuple[int, int, int, int]) -> None:
        if widths != self.widths or len(self._strips) > 2 * MAX_ROWS:
            self._strips = {}
        self.events, self.widths = events, widths
        size = Size(self.size.width, len(events))
        if size != self.virtual_size:
            # Not ``self.virtual_size = size``: that lays the whole screen out again on every
            # new event, and nothing outside this list depends on its length (its scrollbar
            # is always shown, app.tcss).
            self.set_reactive(EventList.virtual_size, size)
            self._scroll_update(size)
        self.refresh()

    def _strip(self, index: int) -> Strip:
        event = self.events[index]
        cached = self._strips.get(id(event))
        if cached is None or cached[0] is not event:
            cached = self._strips[id(event)] = (event, Strip(list(row_text(event, self.widths).render(self.app.console))))
        return cached[1]

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self.events):
            return Strip.blank(width, self.rich_style)
        strip = self._strip(index).crop_extend(0, width, self.rich_style)
        if index == self.cursor:
            strip = Strip(Segment.apply_style(list(strip), CURSOR if self.has_focus else RichStyle(bold=True)))
        return strip.apply_style(self.rich_style)

    def move_cursor(self, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (and scroll it into view)."""
        if not self.events:
            return
        row = max(0, min(row, len(self.events) - 1))
        old, self.cursor = self.cursor, row
        if scroll:
            self.scroll_to_region(self._row_region(row), animate=animate, immediate=True)
            self.call_after_refresh(self._keep_cursor_visible)     # the height may change in this layout
        for r in (old, row):
            y = r - self.scroll_offset.y
            if 0 <= y < self.size.height:
                self.refresh_line(y)
        self.post_message(self.Highlighted(row))

    def _keep_cursor_visible(self) -> None:
        if 0 <= self.cursor < len(self.events):
            self.scroll_to_region(self._row_region(self.cursor), animate=False, immediate=True)

    def _row_region(self, row: int) -> Region:
        return Region(0, row, self.size.width, 1)

    def action_move(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.events) - 1)

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            self.focus()
            self.move_cursor(self.scroll_offset.y + offset.y, scroll=False)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class EventLog(Vertical):
    """The list of the last MAX_ROWS events and a wrapped explanation of the highlighted one."""

    class EventChosen(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._events: list[Event] = []   # the events the list shows (references, not copies)
        self._total = 0
        self._widths: tuple[int, int, int, int] | None = None

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="event-header")
        yield EventList(id="event-table")
        yield QuietStatic(id="event-explain")

    def _columns(self) -> tuple[int, int, int, int]:
        width = self.content_size.width or 80
        widths = column_widths(width)
        if widths != self._widths:
            self._widths = widths
            header = self.query_one("#event-header", QuietStatic)
            header.display = width >= 90          # narrow: one more row of events instead
            header.show_text(row_text(None, widths))
        return widths

    def show(self, events: list[Event], timeline: str = "") -> None:
        """Show the tail of ``events`` (the list only grows between changes; after an undo the
        tail is another list) with the cursor on the newest."""
        widths = self._columns()
        tail = events[-MAX_ROWS:]
        grew = len(events) > self._total
        self._events, self._total = tail, len(events)
        rows = self.query_one(EventList)
        rows.set_rows(tail, widths)
        self.border_subtitle = (f"{timeline} · " if timeline else "") + plural(len(events), "event") + \
            (f", last {MAX_ROWS} shown" if len(events) > MAX_ROWS else "")
        if tail and (grew or rows.cursor >= len(tail) or rows.cursor < 0 or not rows.has_focus):
            rows.move_cursor(len(tail) - 1)
        elif not tail:
            self.query_one("#event-explain", QuietStatic).show_text(Text(""))

    def on_resize(self, event: Resize) -> None:
        if self._widths is not None and column_widths(self.content_size.width) != self._widths:
            self.query_one(EventList).set_rows(self._events, self._columns())

    def _explain(self, e: Event) -> None:
        t = Text()
        t.append(f"{e.kind.value} ", RichStyle(color=KIND_COLOUR.get(e.kind, "#bdbdbd"), bold=True))
        t.append(f"t={e.time:.3f}s" + (f" memory{e.memory_block}" if e.memory_block >= 0 else "") + "  ", DIM)
        t.append(e.explain())
        self.query_one("#event-explain", QuietStatic).show_text(t)

    def on_event_list_highlighted(self, message: EventList.Highlighted) -> None:
        message.stop()
        if 0 <= message.index < len(self._events):
            event = self._events[message.index]
            self._explain(event)
            if self.query_one(EventList).has_focus:
                self.post_message(self.EventChosen(event))

    @property
    def shown(self) -> list[Event]:
        return list(self._events)
