"""The comparison screen: this session's actions replayed through virtio-mem, a balloon and DIMMs.

Everything shown comes from ``core.compare`` (the models) and ``core.compare.tables`` (the text
cells the command line prints too); this screen only lays them out.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from vmemlab.core.compare import compare_session, tables
from vmemlab.core.session import Session


def comparison_text(session: Session) -> str:
    """Summary first, then the table of the last step that resized, with the reasons."""
    c = compare_session(session)
    parts = ["Same actions, same workload, same seed: virtio-mem vs virtio-balloon vs ACPI DIMM.",
             "", tables.render(tables.summary_table(c), indent="")]
    resized = [row for row in c.rows if any(m.outcome != "-" for m in row.models.values())]
    if resized:
        row = resized[-1]
        parts += ["", f"last resize: action {row.step} of this session ({row.action})",
                  tables.render(tables.step_table(row), indent="")]
        parts += tables.step_details(row)
    else:
        parts += ["", "No resize yet: change requested-size (+, -, =) and open this view again."]
    return "\n".join(parts)


class CompareScreen(ModalScreen[None]):
    """virtio-mem next to a balloon and DIMMs for what this session did so far."""

    BINDINGS = [Binding("escape,c,q", "dismiss", "close")]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.text = comparison_text(session)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.text, id="compare-text", markup=False)

    def on_mount(self) -> None:
        box = self.query_one("#help")
        box.border_title = "side by side: virtio-mem, balloon, DIMM"
        box.border_subtitle = "escape to close"
        box.focus()
