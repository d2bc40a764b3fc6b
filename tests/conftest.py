"""Shared fixtures: small machines built the way the recorded traces were."""
from __future__ import annotations

import pytest

from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.machine import Machine
from vmemlab.core.units import GiB


def trace_like(**kw) -> MachineConfig:
    """1 GiB boot (DMA32 only), 4 GiB region at 4 GiB, 2 MiB blocks, 128 MiB memory blocks."""
    devices = kw.pop("devices", (DeviceConfig(region_size=4 * GiB),))
    kw.setdefault("boot_memory", 1 * GiB)
    return MachineConfig(devices=devices, **kw)


@pytest.fixture
def movable_machine() -> Machine:
    return Machine(trace_like(auto_online_blocks="online_movable"))


@pytest.fixture
def normal_machine() -> Machine:
    return Machine(trace_like(auto_online_blocks="online"))


@pytest.fixture(scope="module")
def browser():
    """`vmemlab serve` on a free port and an offline chromium, one pair per browser test module:
    yields (browser, base URL)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from web_helpers import launch, served
    with served() as base, sync_api.sync_playwright() as p:
        b = launch(p)
        yield b, base
        b.close()
