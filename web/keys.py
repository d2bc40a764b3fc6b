"""Keyboard shortcuts and their help overlay, for a teacher at a projector (and a clicker: those
send PageDown/PageUp and the arrow keys).

A small ReactiveHTML component listens to the page's key presses (not while the user types in a
field) and reports each one to Python as ``event`` ("<count>:<key>", so pressing the same key
twice reports twice); the page maps keys to actions (``SHORTCUTS``). ``?`` opens the overlay that
lists them, in the browser alone. It also reports the window's height, which presentation mode
gives to the map.
"""
from __future__ import annotations

import html

import param
from panel.reactive import ReactiveHTML

# key (as KeyboardEvent.key) -> (what it does, the names shown in the overlay)
SHORTCUTS: dict[str, tuple[str, str]] = {
    "n": ("next", "n or PageDown: next lesson step"),
    "PageDown": ("next", ""),
    " ": ("play", "Space or p: play / pause"),
    "p": ("play", ""),
    "u": ("undo", "u: undo"),
    "r": ("redo", "r: redo"),
    "ArrowLeft": ("back", "← or PageUp: one step back on the timeline"),
    "PageUp": ("back", ""),
    "ArrowRight": ("forward", "→: one step forward (redo)"),
    "Home": ("start", "Home: back to the start"),
    "End": ("end", "End: the end of the timeline"),
    "f": ("present", "f: presentation mode on / off"),
    "Escape": ("cancel", "Esc: stop a long settle (or close this help)"),
}


def help_rows() -> str:
    rows = [text for _action, text in SHORTCUTS.values() if text] + ["?: this help"]
    return "".join(f"<li>{html.escape(r)}</li>" for r in rows)


class Keys(ReactiveHTML):
    """Reports key presses (``event``) and the window's height (``screen_height``)."""

    event = param.String(default="", doc="'<count>:<key>' of the last shortcut pressed")
    screen_height = param.Integer(default=800, doc="the browser window's inner height in CSS pixels")
    keys = param.List(default=list(SHORTCUTS), doc="the keys that are shortcuts")

    _template = ("""<div id="keys" class="vm-keys">"""
                 """<button id="helpbutton" class="vm-help-button" onclick="${script('toggle')}" """
                 """title="Keyboard shortcuts" aria-label="Keyboard shortcuts">?</button>"""
                 """<div id="overlay" class="vm-help-overlay" onclick="${script('toggle')}">"""
                 """<div class="vm-help-card" role="dialog" aria-label="Keyboard shortcuts">"""
                 """<h2>Keyboard shortcuts</h2><ul>""" + help_rows() + """</ul>"""
                 """<p>Shortcuts work whenever the cursor is not in a text field. Press ? or Esc to close.</p>"""
                 """</div></div></div>""")

    _scripts = {
        "render": """
            let count = 0;
            overlay.style.display = 'none';
            state.toggle = () => { overlay.style.display = overlay.style.display == 'none' ? 'flex' : 'none'; };
            state.onkey = (e) => {
              const t = e.composedPath()[0];
              if (t && (['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName) || t.isContentEditable)) return;
              if (e.ctrlKey || e.metaKey || e.altKey) return;
              if (e.key == '?') { state.toggle(); e.preventDefault(); return; }
              if (e.key == 'Escape' && overlay.style.display != 'none') { state.toggle(); e.preventDefault(); return; }
              if (!data.keys.includes(e.key)) return;
              e.preventDefault();
              count += 1;
              data.event = count + ':' + e.key;
            };
            state.onresize = () => { data.screen_height = window.innerHeight; };
            document.addEventListener('keydown', state.onkey);
            window.addEventListener('resize', state.onresize);
            state.onresize();
        """,
        "toggle": "state.toggle()",
        "remove": """
            document.removeEventListener('keydown', state.onkey);
            window.removeEventListener('resize', state.onresize);
        """,
    }

    _stylesheets = ["""
        .vm-help-button { font-size: var(--vm-font-size, 14px); width: 2em; height: 2em; border-radius: 1em;
                          border: 1px solid #888; background: #fff; cursor: pointer; }
        .vm-help-overlay { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.45); z-index: 10000;
                           align-items: center; justify-content: center; }
        .vm-help-card { background: #fff; padding: 16px 28px; border-radius: 8px; max-width: 36em;
                        font-size: 18px; line-height: 1.5; font-family: system-ui, sans-serif; }
        .vm-help-card h2 { margin: 0 0 8px; font-size: 22px; }
        .vm-help-card ul { padding-left: 1.2em; margin: 0; }
        .vm-help-card p { color: #444; font-size: 15px; }
    """]

    def action(self) -> str:
        """What the last reported key asks for ('' if none)."""
        key = self.event.split(":", 1)[1] if ":" in self.event else ""
        return SHORTCUTS.get(key, ("", ""))[0]
