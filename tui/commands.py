"""Every key and palette command of the TUI, generated from ``core.actions.ACTIONS`` plus the
UI's own commands (undo, scrub, play, load, export, ...). The footer, the F1 key table, the
command palette and the tests all read this one list."""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from vmemlab.core.actions import ACTIONS, REQUIRED, ActionSpec

KEY_NAMES = {"+": "plus", "-": "minus", "=": "equals_sign"}
AUTO_PARAMS = {"device", "block"}      # taken from what the map shows and has selected
FOOTER_KEYS = {"space", "s", "plus", "minus", "equals_sign", "p", "n", "u", "f1"}


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
    shown = {v: k for k, v in KEY_NAMES.items()} | {"left_square_bracket": "[", "right_square_bracket": "]",
                                                    "left_curly_bracket": "{", "right_curly_bracket": "}"}
    return shown.get(key, key)


def needs_form(spec: ActionSpec) -> bool:
    """An action with a required parameter the UI cannot fill in asks for it in a form."""
    return any(p.default is REQUIRED and p.name not in AUTO_PARAMS for p in spec.params)


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
    Command("ui: play / pause", "Play: one driver request per tick, then the next lesson step", "p", "play",
            "play"),
    Command("ui: next lesson step", "Apply the next step of the lesson (and settle if it says so)", "n",
            "next_step", "lesson"),
    Command("ui: side panels", "Show or hide the device, guest and metrics panels (hidden by default below 110 columns)", "i",
            "panels", "panels"),
    Command("ui: next device", "Show the next virtio-mem device of the machine", "d", "next_device", "device"),
    Command("ui: load scenario…", "Load a shipped lesson or a scenario file", "L", "load", "load"),
    Command("ui: export SVG screenshot", "Save the screen as an SVG file", "ctrl+s", "export_svg", "svg"),
    Command("ui: export trace JSON", "Save the scenario config and the action list as JSON", "e", "export_trace",
            "trace"),
    Command("ui: compare", "Open the balloon / DIMM / virtio-mem comparison (when available)", "c", "compare",
            "compare"),
    Command("ui: help", "Show the help and every key", "f1,question_mark", "help", "help"),
    Command("ui: quit", "Quit vmemlab", "q", "quit", "quit"),
]


def all_commands() -> list[Command]:
    return action_commands() + UI_COMMANDS


def action_names() -> set[str]:
    """The app methods behind the commands ("act", "undo", ...), for ``check_action``."""
    return {c.action.split("(")[0] for c in all_commands()}


def bindings() -> list[Binding]:
    out = []
    for c in all_commands():
        if not c.keys:
            continue
        first = c.keys.split(",")[0]
        out.append(Binding(c.keys, c.action, c.label or c.title.split(": ")[1], show=first in FOOTER_KEYS,
                           key_display=_display(first) if first in KEY_NAMES.values() else None))
    return out


def keys_markdown() -> str:
    """The key table for the help screen, in registry order."""
    lines = ["| key | command | what it does |", "|---|---|---|"]
    for c in all_commands():
        if c.keys:
            keys = " / ".join(f"`{_display(k)}`" for k in c.keys.split(","))
            lines.append(f"| {keys} | {c.title} | {c.help} |")
    return "\n".join(lines)
