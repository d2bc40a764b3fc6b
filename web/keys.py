"""Keyboard shortcuts and their help overlay, for a teacher at a projector (and a clicker: those
send PageDown/PageUp and the arrow keys); and the page's URL fragment.

A script that runs when the page's document is ready (Bokeh's ``document_ready``, so it runs
under ``vmemlab serve`` and in the static site alike, with no extra component) listens to key
presses outside text fields and writes each one, with the window's height and the URL fragment
(a ``#session=`` link), into a hidden text input that Python watches (``Keys._report``); the page
maps keys to actions (``SHORTCUTS``). ``?`` opens an overlay listing them, in the browser alone.
The fragment is reported on load and whenever it changes (Panel's own URL synchronisation is
off under ``vmemlab serve``: it crashed on odd query strings).
"""
from __future__ import annotations

import html
import json

import panel as pn
from bokeh.models import CustomJS, TextInput

# key (as KeyboardEvent.key) -> (what it does, the line in the overlay)
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

HELP = ("<h2>Keyboard shortcuts</h2><ul>"
        + "".join(f"<li>{html.escape(text)}</li>" for _a, text in SHORTCUTS.values() if text)
        + "<li>?: this help</li></ul><p>Shortcuts work whenever the cursor is not in a text field. "
          "Press ? or Esc to close.</p>")

# Installed once per window (the static site draws its page twice: pre-rendered, then live);
# the newest document's sink gets the keys.
SCRIPT = """
window.vmKeysSink = sink;
if (!window.vmKeys) {
  window.vmKeys = {count: 0};
  const overlay = document.createElement('div');
  overlay.id = 'vm-help-overlay';
  overlay.className = 'vm-help-overlay';
  overlay.setAttribute('role', 'dialog');
  overlay.setAttribute('aria-label', 'Keyboard shortcuts');
  overlay.innerHTML = '<div class="vm-help-card">' + help + '</div>';
  overlay.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:10000;display:none;' +
                          'align-items:center;justify-content:center;font-family:system-ui,sans-serif';
  overlay.firstChild.style.cssText = 'background:#fff;padding:16px 28px;border-radius:8px;max-width:36em;' +
                                     'font-size:18px;line-height:1.5';
  overlay.addEventListener('click', () => window.vmKeys.toggle());
  document.body.appendChild(overlay);
  window.vmKeys.toggle = () => { overlay.style.display = overlay.style.display == 'none' ? 'flex' : 'none'; };
  const report = (key) => {
    window.vmKeys.count += 1;
    window.vmKeysSink.value = JSON.stringify({n: window.vmKeys.count, key: key, height: window.innerHeight,
                                              hash: window.location.hash});
  };
  window.vmKeys.report = report;
  window.addEventListener('hashchange', () => report(''));
  document.addEventListener('keydown', (e) => {
    const t = e.composedPath()[0];
    if (t && (['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName) || t.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key == '?') { window.vmKeys.toggle(); e.preventDefault(); return; }
    if (e.key == 'Escape' && overlay.style.display != 'none') { window.vmKeys.toggle(); e.preventDefault(); return; }
    if (!keys.includes(e.key)) return;
    e.preventDefault();
    report(e.key);
  });
  window.addEventListener('resize', () => report(''));
}
window.vmKeys.report('');
"""


class Keys:
    """The shortcuts' receiver: ``on_key(callback)`` gets (action, window height) per report."""

    def __init__(self):
        self.sink = TextInput(visible=False, name="vm-keys", value="")
        self.pane = pn.pane.Bokeh(self.sink, visible=False, width=0, height=0, margin=0)
        self.screen_height = 800
        self.fragment = ""
        self._callbacks = []
        self._fragment_callbacks = []
        self.sink.on_change("value", lambda _attr, _old, new: self._report(new))
        self.help_button = pn.widgets.Button(label="?", width=40, css_classes=["vm-help-button"],
                                             description=None)
        self.help_button.js_on_click(code="window.vmKeys && window.vmKeys.toggle();")

    def install(self, doc) -> None:
        """Run the listener when ``doc`` is ready in the browser (each page's own document)."""
        doc.js_on_event("document_ready", CustomJS(args={"sink": self.sink, "keys": list(SHORTCUTS), "help": HELP},
                                                   code=SCRIPT))

    def on_key(self, callback) -> None:
        self._callbacks.append(callback)

    def on_fragment(self, callback) -> None:
        """Call ``callback(fragment)`` with the URL fragment on load and whenever it changes."""
        self._fragment_callbacks.append(callback)

    def _report(self, raw: str) -> None:
        try:
            data = json.loads(raw)
            key, height, fragment = str(data.get("key", "")), int(data.get("height", 0)), data.get("hash", "")
        except (ValueError, TypeError, AttributeError):
            return                                  # not ours: ignore, as for an unknown key
        if 200 <= height <= 20000:
            self.screen_height = height
        if isinstance(fragment, str) and fragment != self.fragment:
            self.fragment = fragment
            for cb in self._fragment_callbacks:
                cb(fragment)
        action = SHORTCUTS.get(key, ("", ""))[0]
        for cb in self._callbacks:
            cb(action)
