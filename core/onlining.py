"""Which zone a memory block goes to when it is onlined (mm/memory_hotplug.c, Linux 6.1).

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


def _device_node(mem: GuestMemory, device: int) -> int:
    return next(s.node for s in mem.segments if s.device == device)


def _can_online_movable(mem: GuestMemory, device: int, ratio: int, nr_pages: int,
                        node: int | None, early_pages: dict[int, int]) -> bool:
    """auto_movable_can_online_movable(): would MOVABLE:KERNEL stay within the ratio?

    ``early_pages``: present pages of the kernel zones at boot per node (holes do not count).
    Every other memory group (virtio-mem device) on the node claims
    ``max(0, its_movable * 100 / ratio - its_kernel)`` of them for its own MOVABLE memory
    (auto_movable_stats_account_group); this device's own kernel memory raises its allowance.
    """
    nodes = [node] if node is not None else sorted(set(early_pages) | {n for n, _ in mem.zone_present})
    kernel_early = sum(early_pages.get(n, 0) for n in nodes)
    movable = sum(v for (n, z), v in mem.zone_present.items() if z == Zone.MOVABLE and n in nodes)
    req_kernel = 0
    groups_movable = 0
    for d in sorted({d for (d, _m) in mem.dev_present}):
        if d == device or (node is not None and _device_node(mem, d) != node):
            continue
        dmov = mem.dev_present.get((d, True), 0)
        dker = mem.dev_present.get((d, False), 0)
        req_kernel += max(0, dmov * 100 // ratio - dker)
        groups_movable += dmov
    if kernel_early <= req_kernel:
        return False
    kernel_early -= req_kernel
    movable -= groups_movable
    if device >= 0:
        kernel_early += mem.dev_present.get((device, False), 0)
    return movable + nr_pages <= ratio * kernel_early // 100


def zone_for_online(mem: GuestMemory, mb: int, online_type: str, policy: str, ratio: int,
                    numa_aware: bool, boot_pages: dict[int, int], movable_node: bool = False,
                    unit: range | None = None) -> tuple[Zone, str]:
    """Pick the zone for onlining ``mb`` and say why (one sentence).

    ``unit``: the memory blocks of the device's unit (a big block in BBM) that ``mb`` belongs
    to; auto-movable decides for the whole unit (if any of it is kernel, all of it is).
    """
    node = int(mem.mb_node[mb])
    if online_type == "online_movable":
        return Zone.MOVABLE, "online_movable asks for ZONE_MOVABLE"
    if online_type == "online_kernel":
        z = default_kernel_zone(mem, node, mb)
        return z, "online_kernel asks for a kernel zone"
    if policy == "auto-movable" and ratio > 0:
        device = int(mem.mb_device[mb])
        block = mem.chunks_per_mb * PAGES_PER_CHUNK
        unit = unit or range(mb, mb + 1)
        online = [u for u in unit if mem.mb_online[u]]
        if any(int(mem.mb_zone[u]) != Zone.MOVABLE for u in online):
            return default_kernel_zone(mem, node, mb), (
                "auto-movable: part of this big block is already in a kernel zone, so all of it goes there")
        nr = (len(unit) - len(online)) * block
        ok = _can_online_movable(mem, device, ratio, nr, None, boot_pages)
        if ok and numa_aware:
            ok = _can_online_movable(mem, device, ratio, nr, node, boot_pages)
        if ok:
            return Zone.MOVABLE, (f"auto-movable: MOVABLE stays within {ratio}% of kernel memory")
        return default_kernel_zone(mem, node, mb), (
            f"auto-movable: onlining MOVABLE would exceed {ratio}% of kernel memory"
            + (" on this node" if numa_aware and _can_online_movable(mem, device, ratio, nr, None, boot_pages) else "")
            + ", so a kernel zone")
    zone = contig_zone(mem, node, mb, movable_node)
    return zone, f"contig-zones keeps zones contiguous: {zone.name.title() if zone != Zone.DMA32 else 'DMA32'}"
