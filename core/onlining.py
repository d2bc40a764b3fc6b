"""Which zone a memory block goes to when it is onlined (mm/memory_hotplug.c).

``auto_online_blocks`` decides *whether* and how new blocks are onlined; ``online_policy``
decides the zone for a plain "online": contig-zones keeps zones contiguous (usually Normal),
auto-movable onlines to ZONE_MOVABLE while MOVABLE:KERNEL stays within ``auto_movable_ratio``.
"""
from __future__ import annotations

from .memory import PAGES_PER_CHUNK, GuestMemory, Zone

AUTO_ONLINE_CHOICES = ("offline", "online", "online_kernel", "online_movable")
ONLINE_POLICIES = ("contig-zones", "auto-movable")


def default_kernel_zone(mem: GuestMemory, node: int, mb: int) -> Zone:
    """The first kernel zone whose span contains the block, else ZONE_NORMAL."""
    for zone in (Zone.DMA32, Zone.NORMAL):
        if mem.zone_intersects(node, zone, mb):
            return zone
    return Zone.NORMAL


def contig_zone(mem: GuestMemory, node: int, mb: int, movable_node: bool = False) -> Zone:
    """default_zone_for_pfn(): inherit the zone whose span already covers the block."""
    kernel = default_kernel_zone(mem, node, mb)
    in_kernel = mem.zone_intersects(node, kernel, mb)
    in_movable = mem.zone_intersects(node, Zone.MOVABLE, mb)
    if in_kernel != in_movable:
        return kernel if in_kernel else Zone.MOVABLE
    return Zone.MOVABLE if movable_node else kernel


def _can_online_movable(mem: GuestMemory, device: int, ratio: int, nr_pages: int,
                        node: int | None, boot_pages: dict[int, int]) -> bool:
    """auto_movable_can_online_movable(): would MOVABLE:KERNEL stay within the ratio?"""
    nodes = [node] if node is not None else sorted(boot_pages)
    kernel_early = sum(boot_pages.get(n, 0) for n in nodes)
    movable = sum(v for (n, z), v in mem.zone_present.items() if z == Zone.MOVABLE and n in nodes)
    req_kernel = 0
    other_movable = 0
    devices = {d for (d, _m) in mem.dev_present}
    for d in devices:
        if d == device or (node is not None and not _device_on_node(mem, d, node)):
            continue
        dmov = mem.dev_present.get((d, True), 0)
        dker = mem.dev_present.get((d, False), 0)
        req_kernel += min(dmov * 100 // ratio, dker)
        other_movable += dmov
    if kernel_early <= req_kernel:
        return False
    kernel_early -= req_kernel
    movable -= other_movable
    kernel_early += mem.dev_present.get((device, False), 0)
    return movable + nr_pages <= ratio * kernel_early // 100


def _device_on_node(mem: GuestMemory, device: int, node: int) -> bool:
    return any(s.device == device and s.node == node for s in mem.segments)


def zone_for_online(mem: GuestMemory, mb: int, online_type: str, policy: str, ratio: int,
                    numa_aware: bool, boot_pages: dict[int, int]) -> tuple[Zone, str]:
    """Pick the zone for onlining ``mb`` and say why (one sentence)."""
    node = int(mem.mb_node[mb])
    if online_type == "online_movable":
        return Zone.MOVABLE, "online_movable asks for ZONE_MOVABLE"
    if online_type == "online_kernel":
        z = default_kernel_zone(mem, node, mb)
        return z, "online_kernel asks for a kernel zone"
    if policy == "auto-movable" and ratio > 0:
        device = int(mem.mb_device[mb])
        nr = mem.chunks_per_mb * PAGES_PER_CHUNK
        ok = _can_online_movable(mem, device, ratio, nr, None, boot_pages)
        if ok and numa_aware:
            ok = _can_online_movable(mem, device, ratio, nr, node, boot_pages)
        if ok:
            return Zone.MOVABLE, (f"auto-movable: MOVABLE stays within {ratio}% of kernel memory")
        return default_kernel_zone(mem, node, mb), (
            f"auto-movable: onlining MOVABLE would exceed {ratio}% of kernel memory, so a kernel zone")
    zone = contig_zone(mem, node, mb)
    return zone, f"contig-zones keeps zones contiguous: {zone.name.title() if zone != Zone.DMA32 else 'DMA32'}"
