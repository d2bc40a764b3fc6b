"""The Panel/Bokeh browser view of vmemlab (``vmemlab serve``); entry point ``web.app.create_app``."""
