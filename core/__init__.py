"""The vmemlab model: virtio-mem device, Linux guest and driver. No UI imports here."""
