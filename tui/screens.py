"""Modal screens: F1 help (Markdown), loading a scenario or a saved session, and yes/no questions."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from vmemlab.core.scenario import Scenario, ScenarioError, builtin, lesson_files, load
from vmemlab.core.trace_io import FORMAT, TraceError

from .recovery import Reopened, reopen

LoadChoice = Scenario | Reopened       # a scenario to start, or a saved session, already replayed


def glyph_table(entries: list[tuple[str, object, str]]) -> str:
    """A Markdown table of (glyph, style, label) entries, the legends' own data."""
    rows = ["| glyph | meaning |", "|---|---|"]
    rows += [f"| `{glyph}` | {label} |" for glyph, _, label in entries]
    return "\n".join(rows)


def help_markdown(replacements: dict[str, str]) -> str:
    """help.md with its ``{{NAME}}`` placeholders filled (key table, glyph tables)."""
    text = resources.files("vmemlab.tui").joinpath("help.md").read_text(encoding="utf-8")
    for name, value in replacements.items():
        text = text.replace("{{" + name + "}}", value)
    return text


class HelpScreen(ModalScreen[None]):
    """The help text with the key table generated from the app's bindings."""

    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "close help")]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self.markdown)

    def on_mount(self) -> None:
        box = self.query_one("#help")
        box.border_title = "vmemlab help"
        box.border_subtitle = "↑ ↓ pgup pgdn scroll · Esc closes"
        box.focus()


class ConfirmScreen(ModalScreen[bool]):
    """A question with two answers; Enter takes the focused button, Esc always says no."""

    BINDINGS = [Binding("escape", "answer(False)", "no"), Binding("left,right", "app.focus_next", show=False)]

    def __init__(self, title: str, text: str | Text, yes: str, no: str = "Cancel") -> None:
        super().__init__()
        self.title_text, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.text, id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes, variant="primary", id="yes", compact=True)
                yield Button(self.no, id="no", compact=True)

    def on_mount(self) -> None:
        box = self.query_one("#confirm")
        box.border_title = self.title_text
        box.border_subtitle = "Enter chooses · Tab switches · Esc cancels"
        self.query_one("#yes").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LoadScreen(ModalScreen[LoadChoice | None]):
    """Pick a shipped lesson or a saved session, or type a path (a scenario .toml or a saved
    session / trace .json); a bad file shows its error and nothing changes."""

    BINDINGS = [Binding("escape", "dismiss_none", "cancel")]

    def __init__(self, saved: list[Path] | None = None, load_file: Callable[[str], Scenario] = load) -> None:
        super().__init__()
        self.saved = saved or []
        self.load_file = load_file

    def compose(self) -> ComposeResult:
        with Vertical(id="load"):
            options = []
            for i, path in enumerate(self.saved):
                options.append(Option(Text.assemble(("saved session ", "bold #e69f00"), (path.name, "bold")),
                                      id=f"saved:{i}"))
            for name in ["default.toml"] + lesson_files():
                try:
                    title = builtin(name).title
                except ScenarioError:
                    continue
                options.append(Option(Text.assemble((name, "bold"), "  ", (title, "dim")), id=name))
            yield OptionList(*options, id="load-list")
            yield Input(placeholder="or a path: scenario .toml or saved session .json, then Enter", id="load-path")
            yield Static("", id="load-error")

    def on_mount(self) -> None:
        box = self.query_one("#load")
        box.border_title = "load a lesson or a saved session"
        box.border_subtitle = "Enter loads · Tab: path field · Esc cancels"
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id or ""
        if choice.startswith("saved:"):
            self._reopen(self.saved[int(choice.split(":")[1])])
        else:
            self.dismiss(builtin(choice))

    def _reopen(self, path: Path) -> None:
        """Replay a saved session here, so a bad file is refused in this dialog, before anything
        is asked or replaced."""
        try:
            self.dismiss(reopen(path))
        except TraceError as e:
            self.show_error(str(e))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.show_error("type the path of a scenario .toml or a saved session .json")
            return
        path = Path(text).expanduser()
        if path.suffix == ".json" or _is_trace(path):
            self._reopen(path)
            return
        try:
            self.dismiss(self.load_file(text))
        except ScenarioError as e:
            self.show_error(str(e))

    def show_error(self, message: str) -> None:
        error = self.query_one("#load-error", Static)
        error.update(Text.assemble(("cannot load: ", "bold"), message, (" · the sandbox is unchanged", "dim")))
        error.add_class("-shown")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


def _is_trace(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return FORMAT in f.read(200)
    except (OSError, UnicodeDecodeError):
        return False
