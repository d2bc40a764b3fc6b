"""Fidelity: every recorded trace of the real driver + device replays with its score asserted."""
from pathlib import Path

import pytest

from vmemlab.core import oracle

FIXTURES = Path(__file__).parent / "fixtures" / "oracle"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "oracle" / "traces"
TRACES = sorted(FIXTURES.glob("*.json"))
NEW_SHARED = sorted(p for p in SHARED.glob("*.json") if not (FIXTURES / p.name).exists()) if SHARED.is_dir() else []


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_trace_replays_exactly_with_traced_kernel_placement(path):
    report = oracle.replay(oracle.load(path))
    assert report.score == 1.0, oracle.format_report(report)


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_seeded_placement_reaches_the_same_outcomes_and_sizes(path):
    report = oracle.replay(oracle.load(path), placement="seeded")
    for step in report.steps:
        assert step.model.outcome == step.real.outcome
        assert abs(step.model.plugged - step.real.plugged) <= 128 << 20
        assert step.model.usable == step.real.usable
    assert report.score >= 0.85


def test_no_workload_traces_match_request_for_request():
    for path in TRACES:
        report = oracle.replay(oracle.load(path))
        if not report.workload:
            assert all(s.checks["requests"] and s.checks["blocks"] for s in report.steps)


@pytest.mark.parametrize("path", NEW_SHARED, ids=[p.stem for p in NEW_SHARED])
def test_newly_recorded_shared_traces_reach_the_same_outcomes(path):
    report = oracle.replay(oracle.load(path))
    assert all(s.checks.get("outcome", True) and s.checks["usable_region_size"] for s in report.steps), \
        oracle.format_report(report)


def test_config_comes_from_the_trace_metadata():
    cfg = oracle.machine_config(oracle.load(FIXTURES / "bbm-movable.json"))
    assert cfg.force_bbm and cfg.auto_online_blocks == "online_movable"
    assert cfg.boot_memory == 1 << 30 and cfg.devices[0].region_size == 4 << 30
    assert cfg.devices[0].block_size == 2 << 20 and cfg.mb_size == 128 << 20


def test_cli_replay_real_prints_a_score(capsys):
    from vmemlab.cli import main
    assert main(["replay-real", str(FIXTURES / "subblock-normal.json")]) == 0
    out = capsys.readouterr().out
    assert "score 1.000" in out and "subblock-normal" in out
