"""The Textual terminal UI of vmemlab (``vmemlab tui``); see ``tui.app.VmemLabApp``."""
