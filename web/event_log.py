"""Event log: what the last steps did, newest first, each event with its explanation.

Steps are numbered by their timeline position, as the scrubber, the History and the Compare tab
number them; a lesson step says which one it is. A settle that is still running shows as the
next step with its events so far."""
from __future__ import annotations

import html

from vmemlab.core.events import Event, Kind, kind_counts

from .base import HtmlView

ACTIONS_SHOWN = 8          # the log shows the newest actions only, to keep updates small
EVENTS_PER_ACTION = 40
PROBLEMS = {Kind.ERROR, Kind.OOM, Kind.FAKE_OFFLINE_FAILED}


def event_html(e: Event) -> str:
    cls = "vm-bad" if e.kind in PROBLEMS else f"vm-{e.kind.value}"
    return (f'<li class="{cls}"><span class="vm-t">{e.time:.3f}s</span>'
            f'<span class="vm-kind">{e.kind.value}</span> {html.escape(e.explain())}</li>')


def events_html(events: list[Event]) -> str:
    """At most EVENTS_PER_ACTION lines; the middle of a long run is summarised by kind."""
    if len(events) <= EVENTS_PER_ACTION:
        return "".join(map(event_html, events))
    head, tail = events[:EVENTS_PER_ACTION // 2], events[-EVENTS_PER_ACTION // 2:]
    middle = events[len(head):-len(tail)]
    counts = kind_counts(middle)
    summary = ", ".join(f"{k} x{n}" for k, n in counts.items())
    return ("".join(map(event_html, head)) + f'<li class="vm-more">... {len(middle)} more events ({summary}) ...</li>'
            + "".join(map(event_html, tail)))


def step_name(position: int, change) -> str:
    """"step 3 (lesson step 3): request size=1G" -- the one numbering of the page."""
    lesson = f" (lesson step {change.lesson_step})" if change.lesson_step else ""
    return f"step {position}{lesson}: {html.escape(change.label())}"


class EventLog(HtmlView):
    """The refusal message (if any), then the newest actions with their events."""

    pane_classes = ("vm-log-pane",)

    def update(self) -> None:
        sb = self.state.sandbox
        parts = []
        if self.state.message:
            parts.append(f'<div class="vm-message">{html.escape(self.state.message)}</div>')
        work = self.state.session.work
        if work is not None:
            parts.append(f'<div class="vm-step vm-current"><div class="vm-step-head">{step_name(len(sb.entries) + 1, work.change)}'
                         f' (running: {work.steps:,} driver requests so far)</div><ul>{events_html(work.events())}</ul></div>')
        for k in range(len(sb.entries) - 1, max(-1, len(sb.entries) - 1 - ACTIONS_SHOWN), -1):
            e = sb.entries[k]
            cls = "vm-step vm-current" if k == len(sb.entries) - 1 and work is None else "vm-step"
            body = events_html(sb.events[e.first_event:e.first_event + e.n_events]) or \
                '<li class="vm-more">nothing happened</li>'
            parts.append(f'<div class="{cls}"><div class="vm-step-head">{step_name(k + 1, e.change)}</div>'
                         f"<ul>{body}</ul></div>")
        if len(sb.entries) <= ACTIONS_SHOWN:
            parts.append(f'<div class="vm-step"><div class="vm-step-head">boot</div>'
                         f'<ul>{events_html(sb.events[:sb.boot_events])}</ul></div>')
        self.pane.object = '<div class="vm-log">' + "".join(parts) + "</div>"
