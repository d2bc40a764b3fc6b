"""The Compare tab: this session's actions replayed through virtio-mem, a balloon and DIMMs.

The models are ``core.compare``; the cells are ``core.compare.tables`` (the command line prints
the same). Replaying three VMs costs more than one action, so the table is built when asked for
and marked as out of date when the sandbox changes.
"""
from __future__ import annotations

import html

import panel as pn

from vmemlab.core.compare import compare_session, tables

from .base import View
from .markup import html_pane
from .state import SandboxState


def table_html(table: tables.Table, caption: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
    body = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>"
                                    for i, c in enumerate(row)) + "</tr>" for row in table[1:])
    return f'<table class="vm-kv vm-compare"><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>'


class CompareView(View):
    """virtio-mem next to virtio-balloon and ACPI DIMM hotplug for what this tab did so far."""

    def __init__(self, state: SandboxState, **params):
        self.button = pn.widgets.Button(label="Compare this run", color="primary", width=180)
        self.pane = html_pane('<p class="vm-hint">Replays every action of this tab through a balloon VM and a '
                              "DIMM VM with the same workload and seed.</p>")
        self.button.on_click(lambda _e: self.show())
        super().__init__(state, **params)

    def __panel__(self):
        return pn.Column(self.button, self.pane, sizing_mode="stretch_width")

    def show(self) -> None:
        c = compare_session(self.state.session)
        parts = [table_html(tables.summary_table(c), "the whole run")]
        resized = [r for r in c.rows if any(m.outcome != "-" for m in r.models.values())]
        if resized:
            row = resized[-1]
            caption = f"last resize: action {row.step} of this session ({row.action})"
            parts.append(table_html(tables.step_table(row), caption))
            parts += [f'<p class="vm-hint">{html.escape(line)}</p>' for line in tables.step_details(row)]
        else:
            parts.append('<p class="vm-hint">No resize yet: change the requested size first.</p>')
        self.pane.object = "".join(parts)

    def update(self) -> None:
        if "out of date" not in self.pane.object and "<table" in self.pane.object:
            self.pane.object = ('<p class="vm-hint">The sandbox changed: press <b>Compare this run</b> '
                                "again (out of date below).</p>") + self.pane.object
