"""A form for any action of the registry, generated from its ``Param`` list.

The form builds the Action with ``core.actions.make`` and hands it to the app; a refusal (from
``make`` or from the model) is shown in the form, which stays open, and the model is unchanged.
Fields are one line each (compact widgets), so every form fits an 80x24 terminal; the help of
the focused field is shown under the fields. An action without options (reset, kexec) gets a
form too when it needs a confirmation: its Apply button is the second key press.
"""
from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import DescendantFocus
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static
from textual.widgets._select import SelectCurrent, SelectOverlay

from vmemlab.core.actions import REQUIRED, Action, ActionError, ActionSpec, Param, make

HIDDEN_PARAMS = {"device"}        # filled from the device the map shows


def param_hint(p: Param, named: bool = True) -> str:
    """What a field takes; ``named``: prefixed with the field's name (for the hint line)."""
    hint = p.help or {"size": "a size like 128M or 4G", "int": "a whole number", "float": "a number",
                      "str": "text"}.get(p.kind, p.kind)
    if p.kind == "choice":
        hint = f"one of {', '.join(map(str, p.choices))}" + (f"; {p.help}" if p.help else "")
    name = f"{p.name}: " if named else ""
    if p.default is REQUIRED:
        return f"{name}{hint} (required)"
    if p.default not in (None, 0, False, ""):
        return f"{name}{hint} (default {p.default})"
    return f"{name}{hint} (optional)"


class Choice(Select):
    """Textual's Select, safe against keys that arrive while it is being removed (a fast
    Enter/Esc in a closing form): its watchers look up children that may be gone already."""

    def _alive(self) -> bool:
        return bool(self.query(SelectOverlay)) and bool(self.query(SelectCurrent))

    def _watch_expanded(self, expanded: bool) -> None:
        if self._alive():
            super()._watch_expanded(expanded)

    def _watch_value(self, value) -> None:
        if self._alive():
            super()._watch_value(value)

    def action_show_overlay(self) -> None:
        if self._alive():
            super().action_show_overlay()


class ActionForm(ModalScreen[Action | None]):
    """Ask for an action's parameters; ``submit`` returns an error text or None when applied."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, spec: ActionSpec, submit: Callable[[Action], str | None],
                 values: dict[str, str] | None = None, fixed: dict[str, object] | None = None,
                 warning: str = "") -> None:
        super().__init__()
        self.spec = spec
        self.submit = submit
        self.values = values or {}
        self.fixed = fixed or {}
        self.warning = warning
        self.params = [p for p in spec.params if p.name not in HIDDEN_PARAMS]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form", can_focus=False):
            yield Static(Text(self.spec.help), id="form-title")
            if self.warning:
                yield Static(Text(self.warning), id="form-warning")
            for p in self.params:
                with Horizontal(classes="form-row"):
                    yield Label(p.name, classes="form-label")
                    if p.kind in ("choice", "bool"):
                        options = p.choices if p.kind == "choice" else ("false", "true")
                        default = str(self.values.get(p.name, p.default)).lower()
                        yield Choice([(str(c), str(c)) for c in options], value=default, allow_blank=False,
                                     id=f"field-{p.name}", compact=True)
                    else:
                        yield Input(value=str(self.values.get(p.name, "")), placeholder=param_hint(p, named=False),
                                    id=f"field-{p.name}", compact=True)
            yield Static("", id="form-hint")
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        box = self.query_one("#form")
        box.border_title = f"{self.spec.group}: {self.spec.name}"
        box.border_subtitle = "Enter applies · Tab next field · Esc cancels"
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
            inputs.first().select_all()      # typing replaces the suggested value
        else:                                # only choices with defaults: Enter applies them
            for button in self.query("#apply"):     # (gone if a fast Esc closed the form already)
                button.focus()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """The help of the focused field, under the fields."""
        name = (event.widget.id or "").removeprefix("field-")
        p = next((p for p in self.params if p.name == name), None)
        self.query_one("#form-hint", Static).update(Text(param_hint(p), style="dim") if p else "")

    def raw_values(self) -> dict[str, object]:
        raw: dict[str, object] = dict(self.fixed)
        for p in self.params:
            widget = self.query_one(f"#field-{p.name}")
            value = widget.value if isinstance(widget, Input) else str(widget.value)
            if isinstance(widget, Input):
                value = value.strip()
            if value != "":
                raw[p.name] = value
        return raw

    def action_apply(self) -> None:
        try:
            action = make(self.spec.name, **self.raw_values())
        except ActionError as e:
            self.show_error(str(e))
            return
        error = self.submit(action)
        if error:
            self.show_error(error)
        else:
            self.dismiss(action)

    def show_error(self, message: str) -> None:
        """One refusal, in the form only (no toast, no second report in the status line)."""
        self.query_one("#form-error", Static).update(
            Text.assemble(("refused, nothing changed: ", "bold"), message))
        self.query_one("#form-error").add_class("-shown")
        self.query_one("#form-error").scroll_visible()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply() if event.button.id == "apply" else self.action_cancel()
