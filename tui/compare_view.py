"""The comparison screen: this session's actions replayed through virtio-mem, a balloon and DIMMs.

Everything shown comes from ``core.compare`` (the models) and ``core.compare.tables`` (the text
cells the command line prints too); this screen only lays them out. The replay takes seconds at
4 TiB, so it runs in a thread worker on a copy of the action list (it never touches the
session's machine): the screen shows how long it has been working and stays responsive; Esc
closes it at any time.
"""
from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from vmemlab.core.actions import Action
from vmemlab.core.compare import compare_actions, tables
from vmemlab.core.config import MachineConfig
from vmemlab.core.session import Session

from .text import plural


def comparison_text(config: MachineConfig, actions: list[Action]) -> str:
    """Summary first, then the table of the last step that resized, with the reasons."""
    c = compare_actions(config, actions)
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
        self.config = session.scenario.config
        self.actions = list(session.sandbox.actions())      # a copy: the session may go on
        self.text = ""
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._progress(), id="compare-text", markup=False)
            yield LoadingIndicator(id="compare-busy")

    def on_mount(self) -> None:
        box = self.query_one("#help")
        box.border_title = "side by side: virtio-mem, balloon, DIMM"
        box.border_subtitle = "Esc closes"
        box.focus()
        self._ticker = self.set_interval(0.25, self._tick)
        self.run_worker(lambda: comparison_text(self.config, self.actions), thread=True, exit_on_error=False)

    def _progress(self) -> str:
        return (f"Replaying {plural(len(self.actions), 'action')} through virtio-mem, a balloon VM and a DIMM VM… "
                f"{time.monotonic() - self._started:.1f} s (Esc closes; the session is not touched)")

    def _tick(self) -> None:
        if not self.text:
            self.query_one("#compare-text", Static).update(self._progress())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            self.text = event.worker.result
        elif event.state == WorkerState.ERROR:
            self.text = f"the comparison failed: {event.worker.error!r}"
        else:
            return
        self._ticker.stop()
        self.query_one("#compare-busy").display = False
        self.query_one("#compare-text", Static).update(self.text)
