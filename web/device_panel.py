"""Device and driver panel: config space, mode, driver state and the guest's numbers."""
from __future__ import annotations


from vmemlab.core import view

from .base import View
from .markup import html_pane, table_html
from .state import SandboxState


class DevicePanel(View):
    """``core.view.device_panel`` for every device, then ``guest_panel``."""

    def __init__(self, state: SandboxState, **params):
        self.pane = html_pane()
        super().__init__(state, **params)
        self.update()

    def __panel__(self):
        return self.pane

    def update(self) -> None:
        m = self.state.machine
        tables = [table_html(view.device_panel(m, i), f"{d.id}: config space and driver")
                  for i, d in enumerate(m.devices)]
        tables.append(table_html(view.guest_panel(m), "guest"))
        self.pane.object = '<div class="vm-tables">' + "".join(tables) + "</div>"
