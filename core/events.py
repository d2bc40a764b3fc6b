"""Events: what happened, as plain data, each with a sentence that explains it.

Views colour and filter events; tests assert on them; the explanation is what a student reads.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Kind(str, Enum):
    """Event kinds, named after what the real system does."""

    HOST = "host"                      # hypervisor changed something (requested size, migration, reset)
    CONFIG = "config"                  # driver read the config space
    REQUEST = "request"                # one virtio-mem request and the device's response
    BLOCK_ADDED = "block_added"        # add_memory_driver_managed(): memmap allocated, memoryN appears
    BLOCK_ONLINED = "block_onlined"    # pages handed to the buddy allocator
    BLOCK_OFFLINED = "block_offlined"
    BLOCK_REMOVED = "block_removed"    # memoryN gone, memmap freed
    FAKE_OFFLINE = "fake_offline"      # alloc_contig_range() grabbed a subblock (pages migrated)
    FAKE_OFFLINE_FAILED = "fake_offline_failed"
    MIGRATED = "migrated"
    ALLOC = "alloc"
    FREE = "free"
    OOM = "oom"
    GUEST = "guest"                    # the guest kernel as a whole: a crash and kdump, suspend/hibernation
    RETRY = "retry"                    # retry timer armed or fired
    DRIVER = "driver"                  # driver state changes: idle, waiting, broken
    ERROR = "error"                    # an action the user asked for was refused
    NOTE = "note"                      # narration from a lesson


@dataclass(slots=True)
class Event:
    """One thing that happened at simulated time ``time`` (seconds). Treated as immutable
    (not frozen only because frozen dataclasses are slower to build on the hot path)."""

    kind: Kind
    text: str
    time: float = 0.0
    device: str = ""
    memory_block: int = -1     # sysfs memoryN index, -1 if none
    subblock: int = -1         # subblock within the memory block, -1 if none
    addr: int = -1
    size: int = 0
    request: str = ""          # PLUG / UNPLUG / UNPLUG_ALL / STATE
    response: str = ""         # ACK / NACK / BUSY / ERROR
    repeat: int = 1            # how many identical occurrences this event stands for (one per request;
    #                            see core.retries and core.kdump)
    state: str = ""            # a STATE request's answer: PLUGGED / UNPLUGGED / MIXED

    def explain(self) -> str:
        return self.text

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = self.kind.value
        return {k: v for k, v in d.items()
                if (v not in (-1, "", 0) or k in ("kind", "text", "time")) and not (k == "repeat" and v == 1)}
