"""Device config: QEMU's default block size follows the memory backend's page size."""
import pytest

from vmemlab.core.config import ConfigError, DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB, MiB


@pytest.mark.parametrize("page, block", [(0, 2 * MiB), (2 * MiB, 2 * MiB), (1 * GiB, 1 * GiB), (64 << 10, 1 * MiB)])
def test_default_block_size_is_the_thp_size_or_the_huge_page(page, block):
    """QEMU virtio_mem_default_block_size(): max(page, THP) for base pages, max(page, 1M) for hugetlbfs."""
    cfg = MachineConfig(devices=(DeviceConfig(region_size=4 * GiB, hugetlb_page_size=page),))
    assert cfg.device_block_size(cfg.devices[0]) == block


def test_a_block_smaller_than_the_huge_page_is_refused():
    with pytest.raises(ConfigError, match="smaller than the backend's huge page"):
        MachineConfig(devices=(DeviceConfig(region_size=4 * GiB, hugetlb_page_size=GiB, block_size=2 * MiB),)).validate()
    with pytest.raises(ConfigError, match="hugetlb_page_size"):
        MachineConfig(devices=(DeviceConfig(hugetlb_page_size=3 * MiB),)).validate()


def test_one_gib_huge_pages_give_big_block_mode_on_x86():
    m = Machine(MachineConfig(devices=(DeviceConfig(region_size=8 * GiB, hugetlb_page_size=GiB, prealloc=True),)))
    assert m.drivers[0].mode == "BBM" and m.drivers[0].unit_size == GiB and m.devices[0].prealloc
