"""Hypothesis state machine: random action sequences never break the model's invariants."""
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vmemlab.core.actions import ActionError
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.memory import PAGES_PER_CHUNK, Page
from vmemlab.core.sandbox import Sandbox
from vmemlab.core.units import GiB, MiB

CONFIGS = [
    MachineConfig(boot_memory=1 * GiB, auto_online_blocks="online", seed=3,
                  devices=(DeviceConfig(region_size=2 * GiB),)),
    MachineConfig(boot_memory=1 * GiB, auto_online_blocks="online_movable", seed=4,
                  devices=(DeviceConfig(region_size=2 * GiB),)),
    MachineConfig(boot_memory=1 * GiB, online_policy="auto-movable", seed=5, force_bbm=True,
                  devices=(DeviceConfig(region_size=2 * GiB),)),
    MachineConfig(boot_memory=2 * GiB, nodes=2, auto_online_blocks="offline", seed=6,
                  devices=(DeviceConfig("vmem0", node=0, region_size=1 * GiB),
                           DeviceConfig("vmem1", node=1, region_size=1 * GiB))),
]


class ModelMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.sb: Sandbox | None = None

    def _do(self, name, **kw):
        if self.sb is None:
            return
        before = self.sb.machine.metrics()
        pages = self.sb.machine.mem.pages.copy()
        try:
            self.sb.do(name, **kw)
        except ActionError:
            assert self.sb.machine.metrics() == before          # a refused action changes nothing
            assert (self.sb.machine.mem.pages == pages).all()

    @initialize(which=st.integers(0, len(CONFIGS) - 1))
    def start(self, which):
        self.sb = Sandbox(CONFIGS[which])

    @rule(blocks=st.integers(0, 1024), dev=st.sampled_from(["vmem0", "vmem1"]), race=st.booleans())
    def request(self, blocks, dev, race):
        self._do("request", size=blocks * 2 * MiB, device=dev, race=race)

    @rule(mib=st.integers(1, 600), kind=st.sampled_from(["anon", "cache", "kernel", "slab"]),
          placement=st.sampled_from(["random", "packed"]))
    def alloc(self, mib, kind, placement):
        self._do("alloc", size=mib * MiB, kind=kind, placement=placement)

    @rule(kind=st.sampled_from(["anon", "cache", "kernel", "slab"]), mib=st.none() | st.integers(1, 300))
    def free(self, kind, mib):
        self._do("free", kind=kind, size=None if mib is None else mib * MiB)

    @rule(percent=st.floats(0.1, 5), spread=st.sampled_from(["grouped", "worst"]))
    def fragment(self, percent, spread):
        self._do("fragment", percent=percent, spread=spread)

    @rule()
    def pin(self):
        self._do("pin", size="16M", tries=3)

    @rule(block=st.integers(32, 48), kind=st.sampled_from(["online", "online_kernel", "online_movable"]))
    def online(self, block, kind):
        self._do("online", block=block, type=kind)

    @rule(block=st.integers(32, 48))
    def offline(self, block):
        self._do("offline", block=block)

    @rule(n=st.integers(1, 20))
    def step(self, n):
        self._do("step", count=n)

    @rule()
    def settle(self):
        self._do("settle")

    @rule(seconds=st.floats(1, 400))
    def advance(self, seconds):
        self._do("advance", seconds=seconds)

    @rule()
    def migration(self):
        self._do("migration")

    @rule(kind=st.sampled_from(["reset", "kexec"]))
    def reboot(self, kind):
        self._do(kind)

    @rule()
    def undo_redo(self):
        if self.sb is not None and self.sb.entries:
            before = self.sb.machine.metrics()
            self.sb.undo()
            self.sb.redo()
            assert self.sb.machine.metrics() == before

    @invariant()
    def device_bitmap_plugged_size_and_driver_agree(self):
        if self.sb is None:
            return
        m = self.sb.machine
        for dev, drv in zip(m.devices, m.drivers):
            assert int(dev.bitmap.sum()) * dev.block_size == dev.plugged_size
            if drv.unplug_all_required:   # after kexec the new kernel does not know what is plugged yet
                continue
            seg = drv.seg
            chunks = m.mem.plugged[seg.chunk_off:seg.chunk_off + seg.size // (2 * MiB)]
            per_block = chunks.reshape(-1, dev.block_size // (2 * MiB))[:, 0] if dev.block_size >= 2 * MiB else chunks
            assert np.array_equal(per_block, dev.bitmap)
            assert drv.plugged_size == dev.plugged_size

    @invariant()
    def no_page_in_memory_that_is_not_online(self):
        if self.sb is None:
            return
        mem = self.sb.machine.mem
        assert not mem.pages[:, ~mem.chunk_online].any()
        assert not (mem.chunk_online & ~mem.plugged).any()

    @invariant()
    def pages_conserved_and_counted(self):
        if self.sb is None:
            return
        mem = self.sb.machine.mem
        for kind in Page:
            assert int(mem.pages[kind].sum(dtype=np.int64)) == mem.used_total[kind]
        assert (mem.used() <= PAGES_PER_CHUNK).all()

    @invariant()
    def zone_counters_match_the_pages(self):
        if self.sb is None:
            return
        mem = self.sb.machine.mem
        on = mem.chunk_online
        for node in range(mem.n_nodes):
            for zone in range(len(mem.zone_managed[node])):
                sel = on & (mem.chunk_zone == zone) & (mem.chunk_node == node)
                reserved = int(mem.pages[Page.RESERVED, sel].sum(dtype=np.int64))
                used = int(mem.pages[1:, sel].sum(dtype=np.int64))
                assert int(mem.zone_managed[node, zone]) == int(sel.sum()) * PAGES_PER_CHUNK - reserved
                assert int(mem.zone_used[node, zone]) == used
        assert (mem.zone_free() >= 0).all()

    @invariant()
    def first_fit_pointers_never_skip_free_space(self):
        """Below a zone's pointer no online chunk has a free page (or, for ``whole``, is all free):
        searches that start there find what a search from address 0 would."""
        if self.sb is None:
            return
        mem = self.sb.machine.mem
        used = mem.used().astype(np.int64)
        for pointers, full in ((mem.space.first, used == PAGES_PER_CHUNK), (mem.space.whole, used > 0)):
            for (node, zone), at in pointers.items():
                below = slice(0, at)
                mine = mem.chunk_online[below] & (mem.chunk_zone[below] == zone) & (mem.chunk_node[below] == node)
                assert full[below][mine].all(), (node, zone, at)

    @invariant()
    def memtotal_is_online_pages_minus_reserved(self):
        if self.sb is None:
            return
        mem = self.sb.machine.mem
        online = int(mem.chunk_online.sum()) * PAGES_PER_CHUNK
        assert mem.managed_pages == online - mem.used_total[Page.RESERVED]

    @invariant()
    def usable_region_rules(self):
        if self.sb is None:
            return
        for dev in self.sb.machine.devices:
            assert dev.requested_size <= dev.usable_region_size <= dev.region_size or dev.requested_size == 0
            assert dev.usable_region_size % dev.block_size == 0
            beyond = dev.usable_region_size // dev.block_size
            assert not dev.bitmap[beyond:].any()

    def teardown(self):
        if self.sb is None or not self.sb.entries:
            return
        replay = Sandbox(self.sb.config)
        for a in self.sb.actions():
            replay.apply(a)
        assert [e.text for e in replay.events] == [e.text for e in self.sb.events]
        assert replay.machine.metrics() == self.sb.machine.metrics()


ModelMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
TestModel = ModelMachine.TestCase
