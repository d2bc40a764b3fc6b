"""A form for any action of the registry, generated from its ``Param`` list.

The form builds the Action with ``core.actions.make`` and hands it to the app; a refusal (from
``make`` or from the model) is shown in the form, which stays open, and the model is unchanged.
"""
from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from vmemlab.core.actions import REQUIRED, Action, ActionError, ActionSpec, make

HIDDEN_PARAMS = {"device"}        # filled from the device the map shows


class ActionForm(ModalScreen[Action | None]):
    """Ask for an action's parameters; ``submit`` returns an error text or None when applied."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, spec: ActionSpec, submit: Callable[[Action], str | None],
                 values: dict[str, str] | None = None, fixed: dict[str, object] | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.submit = submit
        self.values = values or {}
        self.fixed = fixed or {}

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(Text.assemble((self.spec.name, "bold"), "  ", (self.spec.help, "dim")), id="form-title")
            for p in self.spec.params:
                if p.name in HIDDEN_PARAMS:
                    continue
                with Horizontal(classes="form-row"):
                    yield Label(p.name, classes="form-label")
                    if p.kind == "choice" or p.kind == "bool":
                        options = p.choices if p.kind == "choice" else ("false", "true")
                        default = str(self.values.get(p.name, p.default)).lower()
                        yield Select([(str(c), str(c)) for c in options], value=default, allow_blank=False,
                                     id=f"field-{p.name}")
                    else:
                        hint = p.help or p.kind
                        if p.default is not REQUIRED and p.default not in (None, 0):
                            hint += f" (default {p.default})"
                        yield Input(value=str(self.values.get(p.name, "")), placeholder=hint, id=f"field-{p.name}")
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#form").border_title = f"{self.spec.group}: {self.spec.name}"
        self.query_one("#form").border_subtitle = "enter applies · escape cancels"
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
            inputs.first().select_all()      # typing replaces the suggested value

    def raw_values(self) -> dict[str, object]:
        raw: dict[str, object] = dict(self.fixed)
        for p in self.spec.params:
            if p.name in HIDDEN_PARAMS:
                continue
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
        self.query_one("#form-error", Static).update(
            Text.assemble(("refused: ", "bold"), message, ("\nnothing changed", "dim")))
        self.query_one("#form-error").add_class("-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply() if event.button.id == "apply" else self.action_cancel()
