"""Device and driver panel: config space, mode, driver state and the guest's numbers."""
from __future__ import annotations

from vmemlab.core import view

from .base import HtmlView
from .markup import table_html


class DevicePanel(HtmlView):
    """``core.view.device_panel`` for every device, then ``guest_panel``."""

    def update(self) -> None:
        m = self.state.machine
        tables = [table_html(view.device_panel(m, i), f"{d.id}: config space and driver")
                  for i, d in enumerate(m.devices)]
        tables.append(table_html(view.guest_panel(m), "guest"))
        self.pane.object = '<div class="vm-tables">' + "".join(tables) + "</div>"
