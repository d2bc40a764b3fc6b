"""The model's state in the real tools' formats, so what students learn transfers to a VM.

One implementation for the CLI (``vmemlab show``), the expectations (``mirror = {...}``) and
the views. Formats follow the tools' sources: util-linux ``sys-utils/lsmem.c`` (libsmartcols
table, ``size_to_human_string``), ``drivers/base/memory.c`` (sysfs attributes),
``fs/proc/meminfo.c``, ``kernel/resource.c`` (/proc/iomem), QEMU's QAPI ``VirtioMEMDeviceInfo``
and ``hmp_info_memory_devices``, and libvirt's live domain XML.

Simplifications: boot memory is one "System RAM" range per NUMA node (a real x86 VM also shows
firmware holes and the PCI hole); /proc/meminfo shows only the two fields the model computes;
the parent resource of a device region is named virtioN after the device's index.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .machine import Machine
from .memory import ZONE_NAMES, Zone
from .onlining import default_kernel_zone, zone_for_online
from .units import KiB

SYSFS = "/sys/devices/system/memory"


# ----- QEMU ---------------------------------------------------------------------------------
def qmp_memory_devices(m: Machine) -> list[dict]:
    """QMP query-memory-devices: the virtio-mem entries (QAPI VirtioMEMDeviceInfo field order)."""
    return [{"type": "virtio-mem", "data": {
        "id": d.id, "memaddr": d.addr, "requested-size": d.requested_size, "size": d.plugged_size,
        "max-size": d.region_size, "block-size": d.block_size, "node": d.node_id,
        "memdev": f"/objects/mem{i}"}} for i, d in enumerate(m.devices)]


def qmp_text(m: Machine) -> str:
    """QMP reply to {"execute": "query-memory-devices"}, pretty-printed as qmp-shell -p does."""
    return json.dumps({"return": qmp_memory_devices(m)}, indent=4)


def hmp_info_memory_devices(m: Machine) -> str:
    """HMP `info memory-devices` (QEMU monitor)."""
    lines = []
    for dev in qmp_memory_devices(m):
        d = dev["data"]
        lines += [f'Memory device [virtio-mem]: "{d["id"]}"', f"  memaddr: {d['memaddr']:#x}",
                  f"  node: {d['node']}", f"  requested-size: {d['requested-size']}", f"  size: {d['size']}",
                  f"  max-size: {d['max-size']}", f"  block-size: {d['block-size']}", f"  memdev: {d['memdev']}"]
    return "\n".join(lines)


def virsh_memory_xml(m: Machine) -> str:
    """`virsh dumpxml DOMAIN`: the live <memory model='virtio-mem'> elements (libvirt 7.9+).

    The PCI <address> libvirt also prints is left out: the model has no PCI topology.
    """
    out = []
    for i, d in enumerate(m.devices):
        out += ["<memory model='virtio-mem'>", "  <target>",
                f"    <size unit='KiB'>{d.region_size // KiB}</size>", f"    <node>{d.node_id}</node>",
                f"    <block unit='KiB'>{d.block_size // KiB}</block>",
                f"    <requested unit='KiB'>{d.requested_size // KiB}</requested>",
                f"    <current unit='KiB'>{d.plugged_size // KiB}</current>", "  </target>",
                f"  <alias name='virtiomem{i}'/>", "</memory>"]
    return "\n".join(out)


# ----- Linux sysfs ---------------------------------------------------------------------------
def _present_blocks(m: Machine) -> list[int]:
    """Model indexes of the memory blocks that have a memoryN directory, by N."""
    mem = m.mem
    return sorted((int(i) for i in mem.mb_present.nonzero()[0]), key=lambda mb: int(mem.mb_phys[mb]))


def _valid_zones(m: Machine, mb: int) -> str:
    """memoryN/valid_zones: the zone if online ("none" if it spans two), else default zone first."""
    mem = m.mem
    if mem.mb_online[mb]:
        if m.config.arch == "x86_64" and int(mem.mb_phys[mb]) * mem.mb_size < 16 << 20:
            return "none"  # memory0 spans ZONE_DMA (first 16 MiB) and ZONE_DMA32
        return ZONE_NAMES[Zone(int(mem.mb_zone[mb]))]
    pol = m.guest.policy
    node = int(mem.mb_node[mb])
    default, _ = zone_for_online(mem, mb, "online", pol.online_policy, pol.auto_movable_ratio,
                                 pol.auto_movable_numa_aware, m.guest.boot_pages)
    zones = [default]
    for z in (default_kernel_zone(mem, node, mb), Zone.MOVABLE):
        if z not in zones:
            zones.append(z)
    return " ".join(ZONE_NAMES[z] for z in zones)


def sysfs_memory(m: Machine) -> str:
    """`grep . /sys/devices/system/memory/...`: block_size_bytes, auto_online_blocks, each memoryN."""
    mem = m.mem
    lines = [f"{SYSFS}/auto_online_blocks:{m.guest.policy.auto_online_blocks}",
             f"{SYSFS}/block_size_bytes:{mem.mb_size:x}"]
    for mb in _present_blocks(m):
        n = int(mem.mb_phys[mb])
        online = bool(mem.mb_online[mb])
        base = f"{SYSFS}/memory{n}"
        lines += [f"{base}/online:{int(online)}", f"{base}/phys_index:{n:08x}", f"{base}/removable:1",
                  f"{base}/state:{'online' if online else 'offline'}", f"{base}/valid_zones:{_valid_zones(m, mb)}"]
    return "\n".join(lines)


# ----- lsmem ---------------------------------------------------------------------------------
def _lsmem_size(n: int) -> str:
    """util-linux size_to_human_string(SIZE_SUFFIX_1LETTER): "128M", "1.5G", "0B"."""
    exp = 0
    while exp < 60 and n >= 1 << (exp + 10):
        exp += 10
    letter = "BKMGTPE"[exp // 10]
    dec, frac = (n >> exp, n % (1 << exp)) if exp else (n, 0)
    if frac:
        frac = (frac * 1000 // (1 << exp) + 50) // 100
        if frac == 10:
            dec, frac = dec + 1, 0
    return f"{dec}.{frac}{letter}" if frac else f"{dec}{letter}"


def _lsmem(m: Machine, zones: bool) -> str:
    mem = m.mem
    rows: list[dict] = []
    online_total = offline_total = 0
    for mb in _present_blocks(m):
        n = int(mem.mb_phys[mb])
        online = bool(mem.mb_online[mb])
        if online:
            online_total += mem.mb_size
        else:
            offline_total += mem.mb_size
        z = "/".join(("None" if t == "none" else t) for t in _valid_zones(m, mb).split())
        last = rows[-1] if rows else None
        if last and last["last"] + 1 == n and last["online"] == online and (not zones or last["zones"] == z):
            last["last"] = n
            continue
        rows.append({"first": n, "last": n, "online": online, "zones": z})
    header = ["RANGE", "SIZE", "STATE", "REMOVABLE", "BLOCK"] + (["ZONES"] if zones else [])
    table = [header]
    for r in rows:
        start, end = r["first"] * mem.mb_size, (r["last"] + 1) * mem.mb_size - 1
        block = str(r["first"]) if r["first"] == r["last"] else f"{r['first']}-{r['last']}"
        table.append([f"0x{start:016x}-0x{end:016x}", _lsmem_size(end + 1 - start),
                      "online" if r["online"] else "offline", "yes" if r["online"] else "", block]
                     + ([r["zones"]] if zones else []))
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = [" ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths)))
             for row in table]
    lines += ["", f"{'Memory block size:':<23} {_lsmem_size(mem.mb_size):>5}",
              f"{'Total online memory:':<23} {_lsmem_size(online_total):>5}",
              f"{'Total offline memory:':<23} {_lsmem_size(offline_total):>5}"]
    return "\n".join(lines)


def lsmem(m: Machine) -> str:
    """`lsmem`: ranges of memory blocks with the same state (util-linux)."""
    return _lsmem(m, zones=False)


def lsmem_zones(m: Machine) -> str:
    """`lsmem -o +ZONES`: the same, split by the zones each range is (or may be) onlined to."""
    return _lsmem(m, zones=True)


# ----- /proc ---------------------------------------------------------------------------------
def proc_meminfo(m: Machine) -> str:
    """/proc/meminfo: the MemTotal and MemFree lines (kB, as fs/proc/meminfo.c prints them)."""
    return "\n".join(f"{name + ':':<16}{value // KiB:>8} kB" for name, value in
                     (("MemTotal", m.mem.mem_total), ("MemFree", m.mem.mem_free)))


def proc_iomem(m: Machine) -> str:
    """/proc/iomem: boot RAM, each device region and its added "System RAM (virtio_mem)" ranges.

    virtio-mem adds memory with MHP_MERGE_RESOURCE, so adjacent added blocks show as one range
    (as the recorded Linux 6.1 guest printed them)."""
    mem = m.mem
    lines = []
    for seg in mem.segments:
        end = seg.addr + seg.size - 1
        if seg.device < 0:
            lines.append(f"{seg.addr:08x}-{end:08x} : System RAM")
            continue
        lines.append(f"{seg.addr:08x}-{end:08x} : virtio{seg.device}")
        present = mem.mb_present[seg.mb_off:seg.mb_off + seg.size // mem.mb_size].astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], present, [0]))))
        for first, stop in zip(edges[::2], edges[1::2]):
            start = seg.addr + int(first) * mem.mb_size
            lines.append(f"  {start:08x}-{seg.addr + int(stop) * mem.mb_size - 1:08x} : System RAM (virtio_mem)")
    return "\n".join(lines)


# ----- the firmware's memory map (x86: e820) --------------------------------------------------
# What SeaBIOS reports for a QEMU 7.2 q35 guest (the recorded traces' "BIOS-e820" lines): low RAM
# with the legacy holes, 128 KiB reserved at the top of low RAM, the MMCONFIG window, the chipset
# and BIOS ranges, RAM above 4 GiB, and the HyperTransport range below 1 TiB.
_Q35_RESERVED = ((0xB0000000, 0xBFFFFFFF), (0xFED1C000, 0xFED1FFFF), (0xFFFC0000, 0xFFFFFFFF),
                 (0xFD00000000, 0xFFFFFFFFFF))


def firmware_map(m: Machine) -> list[tuple[int, int, str]]:
    """(start, end inclusive, "usable" / "reserved") entries of the e820 table, by address.

    Only boot memory is in it: virtio-mem memory is found by the driver, never by the firmware
    (and add_memory_driver_managed() creates no /sys/firmware/memmap entry for it either)."""
    from .boot import boot_ranges
    from .config import X86_LOW_HOLE, X86_TOP_HOLE
    cfg = m.config
    merged: list[list[int]] = []
    for r in boot_ranges(cfg, cfg.boot_per_node()):
        if merged and merged[-1][1] == r.addr:
            merged[-1][1] += r.size
        else:
            merged.append([r.addr, r.addr + r.size])
    out: list[tuple[int, int, str]] = []
    holes = cfg.holes >= X86_LOW_HOLE + X86_TOP_HOLE
    for start, end in merged:
        if start == 0 and holes and end > 1 << 20:
            out += [(0, 0x9FBFF, "usable"), (0x9FC00, 0x9FFFF, "reserved"), (0xF0000, 0xFFFFF, "reserved"),
                    (0x100000, end - X86_TOP_HOLE - 1, "usable"), (end - X86_TOP_HOLE, end - 1, "reserved")]
        else:
            out.append((start, end - 1, "usable"))
    ram_end = max(e for _, e, _ in out)
    out += [(a, b, "reserved") for a, b in _Q35_RESERVED if not any(s <= b and a <= e for s, e, _ in out)
            and (a < 4 << 30 or a > ram_end)]
    return sorted(out)


def e820(m: Machine) -> str:
    """dmesg's "BIOS-provided physical RAM map" (x86-64)."""
    if m.config.arch != "x86_64":
        return "(no e820 on arm64: the firmware describes boot memory in the UEFI memory map / device tree)"
    return "\n".join(["BIOS-provided physical RAM map:"] + [f"BIOS-e820: [mem {a:#018x}-{b:#018x}] {t}"
                                                           for a, b, t in firmware_map(m)])


def sys_firmware_memmap(m: Machine) -> str:
    """/sys/firmware/memmap/N/{start,end,type}: the firmware map as boot saw it, plus memory added
    later with add_memory() ("System RAM" hotplug, e.g. ACPI DIMMs); kexec-tools builds the next
    kernel's memory map from it."""
    if m.config.arch != "x86_64":
        return "(no /sys/firmware/memmap on arm64)"
    names = {"usable": "System RAM", "reserved": "Reserved"}
    return "\n".join(f"/sys/firmware/memmap/{i}: start {a:#x} end {b:#x} type {names[t]}"
                     for i, (a, b, t) in enumerate(firmware_map(m)))


# ----- the registry --------------------------------------------------------------------------
@dataclass(frozen=True)
class Mirror:
    """One real tool's output: the command a student would type and how to render it."""

    command: str
    render: Callable[[Machine], str]


MIRRORS: dict[str, Mirror] = {
    "lsmem": Mirror("lsmem", lsmem),
    "lsmem-zones": Mirror("lsmem -o +ZONES", lsmem_zones),
    "sysfs": Mirror(f"grep -H . {SYSFS}/{{auto_online_blocks,block_size_bytes}} "
                    f"{SYSFS}/memoryN/{{online,phys_index,removable,state,valid_zones}}  (N in order)",
                    sysfs_memory),
    "meminfo": Mirror("grep -E 'MemTotal|MemFree' /proc/meminfo", proc_meminfo),
    "iomem": Mirror("cat /proc/iomem", proc_iomem),
    "e820": Mirror("dmesg | grep -A20 'BIOS-provided physical RAM map'", e820),
    "firmware-memmap": Mirror("for d in /sys/firmware/memmap/*; do echo \"$d: start $(cat $d/start) end $(cat $d/end) "
                              "type $(cat $d/type)\"; done", sys_firmware_memmap),
    "qmp": Mirror('{"execute": "query-memory-devices"}', qmp_text),
    "hmp": Mirror("(qemu) info memory-devices", hmp_info_memory_devices),
    "virsh": Mirror("virsh dumpxml DOMAIN  (the virtio-mem <memory> devices)", virsh_memory_xml),
}
