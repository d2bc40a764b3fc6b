"""The lessons and the built-in tour: scenario files shipped with vmemlab (data only)."""
