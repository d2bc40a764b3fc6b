"""Modal screens: F1 help (Markdown) and loading a scenario (built-in lesson or a file)."""
from __future__ import annotations

from importlib import resources
from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from vmemlab.core.scenario import Scenario, ScenarioError, builtin, lesson_files, load


def help_markdown(keys_table: str) -> str:
    text = resources.files("vmemlab.tui").joinpath("help.md").read_text(encoding="utf-8")
    return text.replace("{{KEYS}}", keys_table)


class HelpScreen(ModalScreen[None]):
    """The help text with the key table generated from the app's bindings."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "close help")]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self.markdown)

    def on_mount(self) -> None:
        box = self.query_one("#help")
        box.border_title = "vmemlab help"
        box.border_subtitle = "escape to close"
        box.focus()


class LoadScreen(ModalScreen[Scenario | None]):
    """Pick a shipped lesson or type a path; a bad file shows its error and nothing changes."""

    BINDINGS = [Binding("escape", "dismiss_none", "cancel")]

    def __init__(self, load_file: Callable[[str], Scenario] = load) -> None:
        super().__init__()
        self.load_file = load_file

    def compose(self) -> ComposeResult:
        with Vertical(id="load"):
            options = []
            for name in ["default.toml"] + lesson_files():
                try:
                    title = builtin(name).title
                except ScenarioError:
                    continue
                options.append(Option(Text.assemble((name, "bold"), "  ", (title, "dim")), id=name))
            yield OptionList(*options, id="load-list")
            yield Input(placeholder="or type a path to a scenario .toml and press enter", id="load-path")
            yield Static("", id="load-error")

    def on_mount(self) -> None:
        box = self.query_one("#load")
        box.border_title = "load scenario"
        box.border_subtitle = "enter loads · escape cancels"
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(builtin(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.dismiss(self.load_file(event.value.strip()))
        except ScenarioError as e:
            error = self.query_one("#load-error", Static)
            error.update(Text.assemble(("cannot load: ", "bold"), str(e), ("\nthe sandbox is unchanged", "dim")))
            error.add_class("-shown")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
