"""Speed-ups change no result: every lesson, every recorded trace's replay and the benchmark
scenarios up to 64 GiB give exactly the events and states recorded before the speed-up
(tests/fixtures/model_digests.json, written by ``python -m vmemlab.bench.digests --write --big``;
recorded on main at 5bd5fd8, recorded again on branch core2 after the intended model changes of
issue 12: page tables of anonymous memory, the driver's immediate re-run after a removed block,
pages put back after a failed migration). ``python -m vmemlab.bench.digests --check FILE --big``
adds the 4 TiB benchmark scenarios (too slow for the test suite)."""
import json
from pathlib import Path

import pytest

from vmemlab.bench import digests

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "model_digests.json").read_text())


@pytest.fixture(scope="module")
def now() -> dict[str, list[str]]:
    return digests.all_digests()


def test_every_scenario_is_recorded(now):
    assert set(now) <= set(RECORDED), sorted(set(now) - set(RECORDED))
    assert len(now) >= 70


@pytest.mark.parametrize("group", ["lesson", "oracle", "bench"])
def test_events_and_states_equal_the_recorded_ones(now, group):
    names = {n for n in now if (n.endswith(".toml") and not n.startswith("bench")) == (group == "lesson")
             and (group == "lesson" or n.startswith(group))}
    assert names
    assert digests.differences(RECORDED, {n: now[n] for n in names}) == []


def test_a_changed_state_is_noticed(now):
    name = "01_resizable_dimm.toml"
    changed = {name: list(now[name])}
    changed[name][2] = changed[name][2].replace(changed[name][2].split(":")[2], "0" * 32)
    assert digests.differences(RECORDED, changed) == [f"{name}: step 3 differs (state)"]
