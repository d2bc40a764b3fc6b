"""Every key and palette command of the TUI, generated from ``core.actions.ACTIONS`` plus the
UI's own commands (undo, scrub, play, load, export, ...). The footer, the F1 key table, the
command palette and the tests all read this one list."""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from vmemlab.core.actions import ACTIONS, REQUIRED, ActionSpec

KEY_NAMES = {"+": "plus", "-": "minus", "=": "equals_sign"}
AUTO_PARAMS = {"device", "block"}      # taken from what the map shows and has selected
# Shown in the footer, in this order: the first ones survive on an 80-column terminal.
FOOTER_KEYS = ("f1", "n", "p", "space", "s", "equals_sign", "plus", "minus", "u")
# Keys that would do something drastic on one press (and that Caps Lock makes out of j/k/e):
# they open the action's form, whose Apply is the second, deliberate key press.
SHOWN = {"f1": "F1", "question_mark": "?", "escape": "Esc", "space": "space", "less_than_sign": "<",
         "greater_than_sign": ">", "left_square_bracket": "[", "right_square_bracket": "]",
         "left_curly_bracket": "{", "right_curly_bracket": "}", "plus": "+", "minus": "-", "equals_sign": "="}


@dataclass(frozen=True)
class Command:
    """One thing the user can do: a palette title, help, its key(s) and the app action it runs."""

    title: str
    help: str
    keys: str             # Textual key names, comma separated ("" = palette only)
    action: str           # app action string, e.g. "act('grow')" or "undo"
    label: str = ""       # short footer label

    @property
    def key_hint(self) -> str:
        return ", ".join(_display(k) for k in self.keys.split(",")) if self.keys else ""


def _display(key: str) -> str:
    """How a key is written for people: ``F1``, ``?``, ``<``, ``ctrl+p``."""
    return SHOWN.get(key, key)


def needs_form(spec: ActionSpec) -> bool:
    """A form first: a required parameter the UI cannot fill in, or a drastic action to confirm."""
    return spec.drastic or any(p.default is REQUIRED and p.name not in AUTO_PARAMS for p in spec.params)


def has_options(spec: ActionSpec) -> bool:
    return any(p.name not in AUTO_PARAMS for p in spec.params)


def action_commands() -> list[Command]:
    """One command per registry action, plus "name…" (a form with every option) where useful."""
    out = []
    for spec in ACTIONS.values():
        key = KEY_NAMES.get(spec.key, spec.key)
        suffix = "…" if needs_form(spec) else ""
        out.append(Command(f"{spec.group}: {spec.name}{suffix}", spec.help, key, f"act('{spec.name}')", spec.name))
        if has_options(spec) and not needs_form(spec):
            out.append(Command(f"{spec.group}: {spec.name}…", f"{spec.help}; choose its options first", "",
                               f"act_form('{spec.name}')"))
    return out


UI_COMMANDS = [
    Command("ui: undo", "Undo the last action", "u,ctrl+z", "undo", "undo"),
    Command("ui: redo", "Redo the last undone action", "ctrl+y", "redo", "redo"),
    Command("ui: scrub back", "Go back one action on the timeline", "left_square_bracket", "scrub(-1)", "back"),
    Command("ui: scrub forward", "Go forward one action on the timeline", "right_square_bracket", "scrub(1)", "fwd"),
    Command("ui: timeline start", "Go back to the start of the timeline", "left_curly_bracket", "scrub_to('start')",
            "start"),
    Command("ui: timeline end", "Go forward to the end of the timeline (redo everything)", "right_curly_bracket",
            "scrub_to('end')", "end"),
    Command("ui: play / pause", "Play the lesson: one device request per tick; after each lesson step play "
            "waits (n goes on at once); < and > change the speed", "p", "play", "play"),
    Command("ui: slower", "Play slower (fewer device requests per second)", "less_than_sign", "speed(-1)",
            "slower"),
    Command("ui: faster", "Play faster (more device requests per second)", "greater_than_sign", "speed(1)",
            "faster"),
    Command("ui: next lesson step", "Apply the next step of the lesson (and settle if it says so); while play "
            "waits after a step, go on now", "n", "next_step", "lesson"),
    Command("ui: restart lesson", "Back to the start of the lesson (the timeline start; } brings everything "
            "back)", "ctrl+r", "restart_lesson", "restart"),
    Command("ui: stop settling", "Stop a running settle at the next device request (what it did stays on the "
            "timeline)", "escape", "cancel_work", "stop"),
    Command("ui: follow the active block", "Select the memory block the last change touched, after every "
            "change (on/off)", "w", "follow", "follow"),
    Command("ui: side panels", "Show or hide the device, guest and metrics panels (hidden by default below 110 columns)", "i",
            "panels", "panels"),
    Command("ui: next device", "Show the next virtio-mem device of the machine", "d", "next_device", "device"),
    Command("ui: load scenario…", "Load a shipped lesson, a scenario file or a saved session (the current "
            "session is saved first)", "L", "load", "load"),
    Command("ui: export SVG screenshot", "Save the screen as an SVG file", "ctrl+s", "export_svg", "svg"),
    Command("ui: export trace JSON", "Save the scenario config and the action list as JSON", "e", "export_trace",
            "trace"),
    Command("ui: compare", "Open the balloon / DIMM / virtio-mem comparison (when available)", "c", "compare",
            "compare"),
    Command("ui: help", "Show the help: every key, every glyph", "f1,question_mark", "help", "help"),
    Command("ui: quit", "Quit vmemlab (the session is saved; the next start offers to reopen it)", "q", "quit",
            "quit"),
]


def all_commands() -> list[Command]:
    return action_commands() + UI_COMMANDS


def action_names() -> set[str]:
    """The app methods behind the commands ("act", "undo", ...), for ``check_action``."""
    return {c.action.split("(")[0] for c in all_commands()}


def bindings() -> list[Binding]:
    """One binding per keyed command (the footer is ``footer_hints``, not Textual's)."""
    out = []
    for c in all_commands():
        if not c.keys:
            continue
        first = c.keys.split(",")[0]
        out.append(Binding(c.keys, c.action, c.label or c.title.split(": ")[1], show=False,
                           key_display=_display(first) if first in SHOWN else None))
    return out


def footer_hints(working: bool, playing: bool) -> list[tuple[str, str]]:
    """The footer's keys, most important first: what stops or steers what is running, then
    ``FOOTER_KEYS``, then the palette."""
    hints: list[tuple[str, str]] = []
    if working:
        hints += [("Esc", "stop settle"), ("space", "one request"), ("s", "finish")]
    if playing:
        hints += [("p", "pause"), ("n", "next step"), ("<", "slower"), (">", "faster")]
    by_key = {c.keys.split(",")[0]: c for c in all_commands() if c.keys}
    for key in FOOTER_KEYS:
        shown = _display(key)
        if not any(h[0] == shown for h in hints):
            hints.append((shown, by_key[key].label or by_key[key].title.split(": ")[1]))
    return hints + [("ctrl+p", "palette"), ("q", "quit")]


def keys_markdown() -> str:
    """The key table for the help screen, in registry order."""
    lines = ["| key | command | what it does |", "|---|---|---|"]
    for c in all_commands():
        if c.keys:
            keys = " / ".join(f"`{_display(k)}`" for k in c.keys.split(","))
            lines.append(f"| {keys} | {c.title} | {c.help} |")
    return "\n".join(lines)
