"""QEMU 7.2's virtio-mem device: config invariants and the order of request checks."""
import pytest

from vmemlab.core.device import BlockState, DeviceConfigError, Req, Resp, VirtioMemDevice
from vmemlab.core.units import GiB, MiB


def dev(requested=1 * GiB) -> VirtioMemDevice:
    return VirtioMemDevice("vmem0", 4 * GiB, 4 * GiB, 2 * MiB, requested_size=requested)


def test_usable_region_is_requested_plus_256m_and_never_shrinks():
    d = dev(512 * MiB)
    assert d.usable_region_size == 768 * MiB
    d.set_requested_size(2 * GiB)
    assert d.usable_region_size == 2304 * MiB
    d.set_requested_size(0)
    assert d.usable_region_size == 2304 * MiB
    d.set_requested_size(4 * GiB)
    assert d.usable_region_size == 4 * GiB  # capped at region_size


def test_unplug_all_and_reset_shrink_usable_region():
    d = dev(2 * GiB)
    assert d.request(Req.PLUG, d.addr, 10).resp == Resp.ACK
    d.set_requested_size(0)
    assert d.request(Req.UNPLUG_ALL).resp == Resp.ACK
    assert d.plugged_size == 0 and d.usable_region_size == 0
    d.set_requested_size(1 * GiB)
    d.request(Req.PLUG, d.addr, 4)
    d.system_reset()
    assert d.plugged_size == 0 and not d.bitmap.any() and d.usable_region_size == 1280 * MiB


def test_requested_size_checks_name_the_property():
    d = dev()
    with pytest.raises(DeviceConfigError, match="requested-size: 3M is not a multiple of block-size 2M"):
        d.set_requested_size(3 * MiB)
    with pytest.raises(DeviceConfigError, match="exceeds"):
        d.set_requested_size(8 * GiB)
    assert d.requested_size == 1 * GiB


def test_check_order_error_before_nack_before_state_error_before_busy():
    d = dev(4 * MiB)
    d.migrating = True
    # 1. range outside the usable region -> ERROR even though it would also exceed requested
    assert d.request(Req.PLUG, d.addr + d.usable_region_size, 1000).resp == Resp.ERROR
    # 2. NACK is checked before "already plugged" and before migration
    assert d.request(Req.PLUG, d.addr, 3).resp == Resp.NACK
    # 4. migration -> BUSY for a valid request
    assert d.request(Req.PLUG, d.addr, 2).resp == Resp.BUSY
    d.migrating = False
    assert d.request(Req.PLUG, d.addr, 2).resp == Resp.ACK
    # 3. double plug -> ERROR (NACK does not fire: 4M + 2M > 4M would, so lower the count)
    d.set_requested_size(8 * MiB)
    assert d.request(Req.PLUG, d.addr, 1).resp == Resp.ERROR
    assert d.request(Req.UNPLUG, d.addr + 10 * MiB, 1).resp == Resp.ERROR


@pytest.mark.parametrize("addr_off,nb", [(1 * MiB, 1), (0, 0)])
def test_misaligned_or_empty_requests_are_errors(addr_off, nb):
    d = dev()
    assert d.request(Req.PLUG, d.addr + addr_off, nb).resp == Resp.ERROR
    assert d.plugged_size == 0


def test_state_request():
    d = dev()
    d.request(Req.PLUG, d.addr, 2)
    assert d.request(Req.STATE, d.addr, 2).state == BlockState.PLUGGED
    assert d.request(Req.STATE, d.addr, 4).state == BlockState.MIXED
    assert d.request(Req.STATE, d.addr + 8 * MiB, 4).state == BlockState.UNPLUGGED


def test_bad_device_properties():
    with pytest.raises(DeviceConfigError, match="block-size"):
        VirtioMemDevice("v", 4 * GiB, 4 * GiB, 3 * MiB)
    with pytest.raises(DeviceConfigError, match="multiple of block-size"):
        VirtioMemDevice("v", 4 * GiB, 5 * MiB, 2 * MiB)


def test_prealloc_plug_beyond_what_the_host_can_back_is_busy_and_changes_nothing():
    """QEMU virtio_mem_set_block_state(): prealloc=on preallocates while processing the PLUG."""
    d = VirtioMemDevice("vmem0", 4 * GiB, 4 * GiB, 2 * MiB, requested_size=1 * GiB, prealloc=True)
    d.host_memory = 4 * MiB
    assert d.request(Req.PLUG, d.addr, 2).resp == Resp.ACK
    ans = d.request(Req.PLUG, d.addr + 4 * MiB, 1)
    assert ans.resp == Resp.BUSY and "prealloc=on" in ans.reason
    assert d.plugged_size == 4 * MiB and not d.bitmap[2]
    assert d.request(Req.UNPLUG, d.addr, 1).resp == Resp.ACK          # unplugging frees host memory
    assert d.request(Req.PLUG, d.addr + 4 * MiB, 1).resp == Resp.ACK


def test_migration_busy_comes_before_the_prealloc_check():
    d = VirtioMemDevice("vmem0", 4 * GiB, 4 * GiB, 2 * MiB, requested_size=1 * GiB, prealloc=True)
    d.host_memory = 0
    d.migrating = True
    assert "migration" in d.request(Req.PLUG, d.addr, 1).reason


def test_without_prealloc_the_plug_is_acked_and_the_answer_says_what_was_not_checked():
    d = dev()
    d.host_memory = 2 * MiB
    assert d.request(Req.PLUG, d.addr, 1).note == ""
    ans = d.request(Req.PLUG, d.addr + 2 * MiB, 1)
    assert ans.resp == Resp.ACK and "SIGBUS" in ans.note and d.plugged_size == 4 * MiB


def test_block_states_answer_each_block_as_a_single_block_state_request_would():
    d = dev(512 * MiB)
    d.request(Req.PLUG, d.addr + 2 * MiB, 3)
    states = d.block_states(0, 512)
    for i in (0, 1, 3, 4, 383, 384, 511):
        ans = d.request(Req.STATE, d.addr + i * 2 * MiB, 1)
        assert states[i] == (ans.state if ans.resp == Resp.ACK else -1), i
    assert list(states[:5]) == [BlockState.UNPLUGGED, BlockState.PLUGGED, BlockState.PLUGGED, BlockState.PLUGGED,
                                BlockState.UNPLUGGED]
    assert d.request(Req.STATE, d.addr, 4).state == BlockState.MIXED
