"""ACPI DIMM model: 256 slots, DIMM sizes, all-or-nothing unplug with MEM_UNPLUG_ERROR."""
import pytest

from vmemlab.core.compare.dimm import DimmVM, smallest_dimm
from vmemlab.core.compare.vm import Area
from vmemlab.core.config import MachineConfig
from vmemlab.core.memory import Page, Zone
from vmemlab.core.units import GiB, MiB, TiB


def dimm_vm(online: str = "online_movable", **kw) -> DimmVM:
    cfg = MachineConfig(boot_memory=GiB, auto_online_blocks=online, seed=3)
    return DimmVM(cfg, (Area("vmem0", 4 * GiB, 4 * GiB, 0),), **kw)


@pytest.mark.parametrize("growth, need", [(4 * TiB, 16 * GiB), (4 * GiB, 128 * MiB), (64 * GiB, 256 * MiB),
                                          (100 * GiB, 512 * MiB)])
def test_smallest_dimm_that_reaches_maxmem_in_256_slots(growth, need):
    assert smallest_dimm(growth, 256, 128 * MiB) == need


def test_grow_plugs_whole_dimms_and_rounds_down():
    vm = dimm_vm()
    assert vm.resize(0, 300 * MiB) == ""
    assert vm.size == GiB + 256 * MiB and vm.slots_used() == 2
    assert vm.memmap == GiB // 64 + 2 * 2 * MiB


def test_slots_run_out():
    vm = dimm_vm(slots=3, dimm_size=128 * MiB)
    assert "all 3 ACPI memory slots" in vm.resize(0, GiB)
    assert vm.size == GiB + 3 * 128 * MiB


def test_contig_zones_onlines_dimms_to_normal_online_movable_to_movable():
    normal, movable = dimm_vm("online"), dimm_vm("online_movable")
    for vm in (normal, movable):
        vm.resize(0, GiB)
    assert {int(z) for z in normal.mem.mb_zone[normal.mem.mb_present][8:]} == {Zone.NORMAL}
    assert {int(z) for z in movable.mem.mb_zone[movable.mem.mb_present][8:]} == {Zone.MOVABLE}


def test_one_unmovable_page_fails_the_whole_dimm_and_nothing_changes():
    vm = dimm_vm("online", dimm_size=512 * MiB)
    vm.resize(0, GiB)
    newest = vm.dimms[-1]
    last_block = newest.blocks[-1]
    sl = vm.mem.mb_chunks(last_block)
    assert vm.mem.alloc(1, Page.KERNEL, vm.vm.rng, at=slice(sl.stop - 1, sl.stop)) == 1
    why = vm.resize(0, 512 * MiB)
    assert "MEM_UNPLUG_ERROR for dimm1: offlining" in why and f"memory{vm.vm.guest.sysfs_id(last_block)}" in why
    assert vm.size == 2 * GiB and vm.mem.mb_online[list(newest.blocks)].all()


def test_unplug_succeeds_when_everything_is_movable_and_frees_the_memmap():
    vm = dimm_vm("online_movable")
    vm.resize(0, GiB)
    vm.vm.guest.allocate(256 * MiB, Page.ANON)
    memmap = vm.memmap
    assert vm.resize(0, 512 * MiB) == ""
    assert vm.size == GiB + 512 * MiB and memmap - vm.memmap == 4 * 2 * MiB and vm.slots_used() == 4


def test_a_freed_slot_is_reused_at_the_lowest_free_address():
    vm = dimm_vm()
    vm.resize(0, 512 * MiB)
    vm.resize(0, 256 * MiB)
    vm.resize(0, 384 * MiB)
    assert [d.addr for d in vm.dimms] == [4 * GiB, 4 * GiB + 128 * MiB, 4 * GiB + 256 * MiB]


@pytest.mark.parametrize("kw, field", [({"dimm_size": 100 * MiB}, "dimm_size"), ({"slots": 257}, "dimm_slots")])
def test_bad_options_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        dimm_vm(**kw)
