"""Mirrors print the model's state exactly as the real tools format it."""
import json

from vmemlab.core import mirrors
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, MiB


def machine(plugged: int, **kw) -> Machine:
    kw.setdefault("auto_online_blocks", "online_movable")
    m = Machine(MachineConfig(boot_memory=GiB, devices=(DeviceConfig(region_size=4 * GiB),), **kw))
    m.set_requested_size(0, plugged)
    m.settle()
    return m


def test_lsmem_default_columns_and_summary():
    assert mirrors.lsmem(machine(300 * MiB)) == "\n".join([
        "RANGE                                 SIZE  STATE REMOVABLE BLOCK",
        "0x0000000000000000-0x000000003fffffff   1G online       yes   0-7",
        "0x0000000100000000-0x0000000117ffffff 384M online       yes 32-34",
        "",
        "Memory block size:       128M",
        "Total online memory:     1.4G",
        "Total offline memory:      0B",
    ])


def test_lsmem_zones_splits_by_zone_and_memory0_spans_two_zones():
    lines = mirrors.lsmem_zones(machine(GiB)).splitlines()
    assert lines[0].split() == ["RANGE", "SIZE", "STATE", "REMOVABLE", "BLOCK", "ZONES"]
    assert lines[1].endswith("    0    None") and lines[2].endswith("1-7   DMA32")
    assert lines[3].endswith("32-39 Movable")


def test_lsmem_offline_blocks_have_no_removable_and_list_their_valid_zones():
    m = machine(256 * MiB, auto_online_blocks="offline")
    text = mirrors.lsmem_zones(m)
    assert text.splitlines()[3] == "0x0000000100000000-0x000000010fffffff 256M offline           32-33 Normal/Movable"
    assert text.endswith("Total offline memory:    256M")


def test_lsmem_sizes_round_like_util_linux():
    size = mirrors._lsmem_size
    assert [size(0), size(128 * MiB), size(1408 * MiB), size(1536 * MiB), size(4 << 40)] == \
        ["0B", "128M", "1.4G", "1.5G", "4T"]


def test_sysfs_attributes():
    m = machine(128 * MiB, auto_online_blocks="offline")
    lines = mirrors.sysfs_memory(m).splitlines()
    root = "/sys/devices/system/memory"
    assert lines[:2] == [f"{root}/auto_online_blocks:offline", f"{root}/block_size_bytes:8000000"]
    assert f"{root}/memory0/valid_zones:none" in lines
    assert [line for line in lines if "/memory32/" in line] == [
        f"{root}/memory32/online:0", f"{root}/memory32/phys_index:00000020", f"{root}/memory32/removable:1",
        f"{root}/memory32/state:offline", f"{root}/memory32/valid_zones:Normal Movable"]


def test_meminfo_is_in_kb_with_the_kernels_padding():
    assert mirrors.proc_meminfo(machine(0)) == "MemTotal:         915420 kB\nMemFree:          876508 kB"


def test_iomem_merges_adjacent_added_blocks_under_the_device_region():
    """MHP_MERGE_RESOURCE: the recorded 6.1 guest showed 300M plugged as one 100000000-117ffffff range."""
    assert mirrors.proc_iomem(machine(256 * MiB)).splitlines() == [
        "00000000-3fffffff : System RAM",
        "100000000-1ffffffff : virtio0",
        "  100000000-10fffffff : System RAM (virtio_mem)",
    ]


def test_qmp_fields_in_qapi_order():
    reply = json.loads(mirrors.qmp_text(machine(GiB)))
    data = reply["return"][0]["data"]
    assert reply["return"][0]["type"] == "virtio-mem"
    assert list(data) == ["id", "memaddr", "requested-size", "size", "max-size", "block-size", "node", "memdev"]
    assert data["size"] == GiB and data["memaddr"] == 4 * GiB


def test_hmp_info_memory_devices():
    assert mirrors.hmp_info_memory_devices(machine(GiB)).splitlines() == [
        'Memory device [virtio-mem]: "vmem0"', "  memaddr: 0x100000000", "  node: 0",
        "  requested-size: 1073741824", "  size: 1073741824", "  max-size: 4294967296",
        "  block-size: 2097152", "  memdev: /objects/mem0"]


def test_virsh_memory_element_in_kib():
    xml = mirrors.virsh_memory_xml(machine(GiB))
    assert xml.startswith("<memory model='virtio-mem'>\n  <target>\n    <size unit='KiB'>4194304</size>")
    assert "<requested unit='KiB'>1048576</requested>" in xml and "<current unit='KiB'>1048576</current>" in xml
    assert "<block unit='KiB'>2048</block>" in xml and "<alias name='virtiomem0'/>" in xml


def test_every_registered_mirror_renders_text():
    m = machine(GiB)
    for name, mirror in mirrors.MIRRORS.items():
        assert isinstance(mirror.render(m), str) and mirror.render(m), name


def test_e820_is_what_the_recorded_q35_guest_printed():
    """tests/fixtures/oracle/reset-normal.json: Linux 6.1 in QEMU 7.2 q35, 1 GiB, SeaBIOS."""
    import re
    from pathlib import Path
    trace = (Path(__file__).parent / "fixtures" / "oracle" / "reset-normal.json").read_text()
    real = []
    for line in re.findall(r"BIOS-e820: \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] \w+", trace):
        if line in real:
            break
        real.append(line)
    assert mirrors.e820(machine(1 * GiB)).splitlines()[1:] == real


def test_firmware_map_never_holds_virtio_mem_memory():
    m = machine(2 * GiB)
    assert "100000000-17fffffff : System RAM (virtio_mem)" in mirrors.proc_iomem(m)
    for text in (mirrors.e820(m), mirrors.sys_firmware_memmap(m)):
        assert "0x100000000" not in text and "0x0000000100000000" not in text
    assert mirrors.sys_firmware_memmap(m).splitlines()[3] == \
        "/sys/firmware/memmap/3: start 0x100000 end 0x3ffdffff type System RAM"


def test_firmware_map_lists_boot_ram_above_4g():
    m = Machine(MachineConfig(boot_memory=4 * GiB, below_4g=2 * GiB, devices=(DeviceConfig(),)))
    assert "BIOS-e820: [mem 0x0000000100000000-0x000000017fffffff] usable" in mirrors.e820(m)
    assert "[mem 0x0000000000100000-0x000000007ffdffff] usable" in mirrors.e820(m)


def test_arm64_has_no_e820():
    m = Machine(MachineConfig(arch="arm64", devices=(DeviceConfig(),)))
    assert "no e820" in mirrors.e820(m) and "no /sys/firmware/memmap" in mirrors.sys_firmware_memmap(m)
