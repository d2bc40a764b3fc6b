"""The side-by-side run: same targets and workload for all three, contrasts on fixed seeds."""
import json

import pytest

from vmemlab.core.actions import make
from vmemlab.core.compare import MODELS, CompareOptions, compare, compare_actions
from vmemlab.core.compare.tables import render, step_table, summary_table
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import builtin, default
from vmemlab.core.units import GiB, MiB

LESSON = "15_balloon_fragments.toml"


@pytest.fixture(scope="module")
def lesson():
    return compare(builtin(LESSON))


def test_one_row_per_step_plus_boot_and_the_same_target_for_all(lesson):
    assert [r.step for r in lesson.rows] == list(range(8))
    for row in lesson.rows:
        assert {m.requested for m in row.models.values()} == {row.requested}


def test_the_balloon_splits_few_host_huge_pages_on_a_fresh_guest_and_hundreds_later(lesson):
    fresh, later = lesson.rows[2].models, lesson.rows[6].models
    assert fresh["virtio_mem"].free_2m_chunks - fresh["balloon"].free_2m_chunks == 9
    assert fresh["balloon"].host_thp_split == 3 and fresh["virtio_mem"].host_thp_split == 0
    assert fresh["balloon"].memmap - fresh["virtio_mem"].memmap == 16 * MiB
    assert all(m.outcome == "ok" and m.reached == 5 * GiB for m in fresh.values())
    assert later["balloon"].host_thp_split == 600 and later["virtio_mem"].host_thp_split == 0
    assert all(m.outcome == "ok" and m.reached == 5 * GiB for m in later.values())


def test_summary_granularity_and_limits(lesson):
    s = lesson.summary
    assert (s["virtio_mem"].granularity, s["balloon"].granularity, s["dimm"].granularity) == (2 * MiB, 4096, 128 * MiB)
    assert s["balloon"].numa_aware is False and s["virtio_mem"].numa_aware and s["dimm"].numa_aware
    assert {x.largest for x in s.values()} == {6 * GiB}


def test_same_seed_gives_the_same_comparison():
    assert compare(builtin(LESSON)).to_dict() == compare(builtin(LESSON)).to_dict()


def test_json_round_trip(lesson):
    data = json.loads(json.dumps(lesson.to_dict()))
    assert set(data["rows"][2]["models"]) == set(MODELS)
    assert data["summary"]["dimm"]["title"] == "ACPI DIMM"


def test_default_tour_a_size_virtio_mem_refuses_the_balloon_reaches():
    c = compare(default())
    odd = next(r for r in c.rows if r.action.startswith("request size=301M"))
    assert odd.models["virtio_mem"].outcome == "refused" and "block-size" in odd.models["virtio_mem"].detail
    assert odd.models["balloon"].outcome == "ok" and odd.models["dimm"].outcome == "rounded"


def test_beyond_maxmem_is_refused_for_all_and_grow_is_relative_to_the_last_wish():
    cfg = MachineConfig(boot_memory=GiB, seed=1, devices=(DeviceConfig(region_size=GiB),))
    c = compare_actions(cfg, [make("request", size="2G"), make("grow", by="512M"), make("shrink", by="256M")])
    assert {m.outcome for m in c.rows[1].models.values()} == {"refused"}
    assert "maxmem" in c.rows[1].models["balloon"].detail
    assert c.rows[3].requested == GiB + 256 * MiB
    assert {m.reached for m in c.rows[3].models.values()} == {GiB + 256 * MiB}


def test_actions_without_a_counterpart_say_so():
    cfg = MachineConfig(boot_memory=GiB, seed=1, devices=(DeviceConfig(region_size=GiB),))
    c = compare_actions(cfg, [make("migration", on="on")])
    assert "no virtio-balloon counterpart" in c.rows[1].models["balloon"].detail


def test_explicit_dimm_size_and_bad_placement():
    c = compare(builtin(LESSON), CompareOptions(dimm_size=GiB))
    assert c.rows[0].models["dimm"].slots_used == 4
    with pytest.raises(ValueError, match="balloon_placement"):
        compare(builtin(LESSON), CompareOptions(balloon_placement="nowhere"))


def test_tables_have_a_column_per_model(lesson):
    table = step_table(lesson.rows[2])
    assert table[0] == ["asked 5G", "virtio-mem", "virtio-balloon", "ACPI DIMM"]
    assert ["free 2 MiB chunks", "1930", "1921", "1930"] in table      # the program's page tables took one
    assert "NUMA-aware" in render(summary_table(lesson))
