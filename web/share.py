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

import param
from panel.reactive import ReactiveHTML

from .links import encode_session
from .state import SandboxState
from .url import share_query


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


class CopyLink(ReactiveHTML):
    """A button that copies a link to this page as it is, and shows the link."""

    query = param.String(default="")
    fragment = param.String(default="")
    status = param.String(default="")

    _template = ("""<div id="box" class="vm-copy">"""
                 """<button id="copy" class="vm-copy-button" onclick="${script('copy')}">Copy link</button>"""
                 """<input id="link" class="vm-copy-link" readonly aria-label="link to this page" value=""></input>"""
                 """<span id="said" class="vm-copy-status">${status}</span></div>""")

    _scripts = {
        # Panel hands string parameters over HTML-escaped ('&' as '&amp;'): unescape them first.
        "render": "const plain = (s) => { const t = document.createElement('textarea'); t.innerHTML = s; "
                  "return t.value; }; state.update = () => { link.value = location.origin + location.pathname + "
                  "plain(data.query) + (data.fragment ? '#' + plain(data.fragment) : ''); }; state.update();",
        "query": "state.update()",
        "fragment": "state.update()",
        "copy": """
            state.update();
            const done = (ok) => { said.textContent = ok ? 'copied' : 'press Ctrl+C to copy the selected link'; };
            link.focus(); link.select();
            if (navigator.clipboard && window.isSecureContext) {
              navigator.clipboard.writeText(link.value).then(() => done(true), () => done(document.execCommand('copy')));
            } else {
              done(document.execCommand('copy'));
            }
        """,
    }

    _stylesheets = ["""
        .vm-copy { display: flex; align-items: center; gap: 6px; font-size: var(--vm-font-size, 14px); }
        .vm-copy-button { font-size: inherit; padding: 4px 10px; cursor: pointer; border: 1px solid #888;
                          border-radius: 4px; background: #fff; }
        .vm-copy-link { flex: 1 1 auto; min-width: 6em; font-size: calc(var(--vm-font-size, 14px) - 2px);
                        font-family: ui-monospace, monospace; }
        .vm-copy-status { color: #1b5e20; white-space: nowrap; }
    """]

    def show(self, state: SandboxState) -> None:
        query, fragment = link_parts(state)
        self.param.update(query=query, fragment=fragment)
