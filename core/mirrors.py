"""The model's state in the real tools' formats, so what students learn transfers to a VM."""
from __future__ import annotations

from .machine import Machine


def qmp_memory_devices(m: Machine) -> list[dict]:
    """QMP ``query-memory-devices`` for the virtio-mem devices (QEMU 7.2 field names)."""
    return [{"type": "virtio-mem", "data": {
        "id": d.id, "memaddr": d.addr, "node": d.node_id, "requested-size": d.requested_size,
        "size": d.plugged_size, "max-size": d.region_size, "block-size": d.block_size,
        "memdev": f"/objects/mem{i}"}} for i, d in enumerate(m.devices)]
