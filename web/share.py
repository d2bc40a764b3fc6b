"""The copy-link button, and opening what a link or a trace file carries.

The link is made in the browser from its own address (the server never knows the name a
student's browser used to reach it): the page's origin and path, then the query and fragment
Python keeps up to date. A plain lesson position gets the short ``?scenario=&step=`` link; a
timeline with the user's own changes gets ``#session=...`` (``links.encode_session``).
Clipboard access needs a secure page (https or 127.0.0.1); elsewhere the link is selected in
its box for Ctrl+C.
"""
from __future__ import annotations

from urllib.parse import urlencode

import json

import panel as pn

from .links import encode_session
from .state import SandboxState
from .url import share_query
from .widgets import FlexRow


def lesson_only(state: SandboxState) -> bool:
    """Is the timeline exactly the lesson's first steps (the short link reproduces it)?"""
    changes = state.sandbox.changes()
    return all(c.lesson_step == k for k, c in enumerate(changes, start=1)) and \
        all(c.max_steps is None for c in changes)


def link_parts(state: SandboxState) -> tuple[str, str]:
    """(query, fragment) of a link that reopens this page as it is."""
    name = state.scenario_name
    present = "&present=1" if state.present else ""
    if lesson_only(state) and name in state.scenario_names():
        return share_query(name, state.session.cursor) + present, ""
    return "?" + urlencode({"scenario": name}) + present, encode_session(name, state.sandbox.changes())


COPY = """
const url = JSON.parse(data.value || '{}');
const full = location.origin + location.pathname + (url.query || '') + (url.fragment ? '#' + url.fragment : '');
box.value = full;
const view = Bokeh.index.all_views ? [...Bokeh.index.all_views()].find((v) => v.model === box) : null;
const input = view && view.input_el;
const said = (text) => { source.label = text; setTimeout(() => { source.label = 'Copy link'; }, 2500); };
const fallback = () => {
  if (input) { input.focus(); input.select(); }
  said(document.execCommand && document.execCommand('copy') ? 'Copied' : 'Press Ctrl+C');
};
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(full).then(() => said('Copied'), fallback);
} else {
  fallback();
}
"""


class CopyLink:
    """A button that copies a link to this page as it is (and shows it in a box beside it)."""

    def __init__(self):
        self.data = pn.widgets.TextInput(visible=False, value="{}")
        self.box = pn.widgets.TextInput(placeholder="the link to this page appears here", min_width=160,
                                        sizing_mode="stretch_width", css_classes=["vm-copy-link"])
        self.button = pn.widgets.Button(label="Copy link", width=110, css_classes=["vm-copy-button"])
        # the button is ``source`` in COPY: Panel keeps callbacks in a WeakKeyDictionary keyed by
        # their widget, so args naming the widget itself would keep every closed tab's page alive
        self.button.js_on_click(args={"data": self.data, "box": self.box}, code=COPY)
        self.layout = FlexRow(self.button, self.box, self.data, align_items="center",
                              styles={"flex": "1 1 300px", "max-width": "640px"})

    def show(self, state: SandboxState) -> None:
        query, fragment = link_parts(state)
        self.data.value = json.dumps({"query": query, "fragment": fragment})
