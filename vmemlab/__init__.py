"""vmemlab: an interactive visualizer and teaching sandbox for virtio-mem."""

__version__ = "0.1.0"
