"""The status bar: requested, plugged and usable size, MemTotal, memmap, driver state and retry
timer (``core.view.status_bar``), always in sight, each marked when the last step moved it.

A moved number is marked three ways (a triangle, bold text and a tinted box), so the change is
seen without colour. While long work runs the numbers follow it.
"""
from __future__ import annotations

import html

from vmemlab.core import view

from .base import HtmlView

CHANGED = "▲"


class StatusBar(HtmlView):
    pane_classes = ("vm-status-pane",)

    def update(self) -> None:
        s = self.state
        first = s.sandbox.position == 0 and s.session.work is None     # boot: no step to have moved anything
        items = view.status_bar(s.machine, 0, s.before_metrics(), [] if first else s.last_events)
        cells = []
        for item in items:
            cls = "vm-stat vm-changed" if item.changed else "vm-stat"
            mark = f'<span class="vm-mark" title="changed by the last step">{CHANGED}</span>' if item.changed else ""
            cells.append(f'<div class="{cls}" data-key="{item.key}"><span class="vm-stat-label">'
                         f'{html.escape(item.label)}</span><span class="vm-stat-value">{mark}'
                         f"{html.escape(item.value)}</span></div>")
        busy = f'<div class="vm-stat vm-working">{html.escape(s.working)}</div>' if s.working else ""
        self.pane.object = f'<div class="vm-status">{"".join(cells)}{busy}</div>'
