"""Fidelity: every recorded trace of the real driver + device replays and scores >= 0.95 strictly."""
import copy
import json
from pathlib import Path

import pytest

from vmemlab.core import oracle
from vmemlab.core.units import GiB, MiB

FIXTURES = Path(__file__).parent / "fixtures" / "oracle"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "oracle" / "traces"
TRACES = sorted(FIXTURES.glob("*.json"))
NEW_SHARED = sorted(p for p in SHARED.glob("*.json") if not (FIXTURES / p.name).exists()) if SHARED.is_dir() else []
MIN_SCORE = 0.95
# Recorded traces the model does not yet reach 0.95 on, each with the reason (docs/fidelity.md).
KNOWN_MISMATCH: dict[str, str] = {}


def trace(name: str) -> dict:
    return oracle.load(FIXTURES / f"{name}.json")


@pytest.fixture(scope="module")
def reports() -> dict[str, oracle.Report]:
    return {p.stem: oracle.replay_path(p) for p in TRACES}


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_every_recorded_trace_replays_and_scores_at_least_095(path, reports):
    r = reports[path.stem]
    assert not r.error, r.error
    if path.stem in KNOWN_MISMATCH:
        assert 0.8 <= r.score < MIN_SCORE, "fixed? remove it from KNOWN_MISMATCH and docs/fidelity.md"
        pytest.xfail(KNOWN_MISMATCH[path.stem])
    assert r.total > 0 and r.score >= MIN_SCORE, oracle.format_report(r)


@pytest.mark.parametrize("path", NEW_SHARED, ids=[p.stem for p in NEW_SHARED])
def test_shared_traces_not_yet_in_the_fixtures_score_at_least_095(path):
    r = oracle.replay_path(path)
    assert not r.error and r.score >= MIN_SCORE, oracle.format_report(r)


def test_fixtures_cover_the_harness_options():
    metas = [trace(p.stem)["meta"] for p in TRACES]
    cmdlines = [" ".join(m["qemu_cmdline"]) for m in metas]
    kernel = [m["kernel_cmdline"] for m in metas]
    specs = {s["spec"].split(":")[0] for p in TRACES for s in trace(p.stem)["steps"]}
    assert {"fill", "unfill", "slab", "unslab", "hog", "sleep", "reset", "resend", "vmem1"} <= specs
    for needle in ("block-size=1M", "block-size=4M", "block-size=256M", "block-size=1G", "-numa", "-m 2G", "-m 4G",
                   "requested-size=1G"):
        assert any(needle in c for c in cmdlines), needle
    for needle in ("auto_movable_ratio=100", "auto_movable_ratio=50", "force_bbm=1", "bbm_block_size",
                   "unplug_online=0", "memhp_default_state=offline", "memhp_default_state=online_kernel"):
        assert any(needle in k for k in kernel), needle
    assert any(s.get("settle", {}).get("reason") == "qmp-error" for p in TRACES for s in trace(p.stem)["steps"])
    assert any(s.get("guest_dead") for p in TRACES for s in trace(p.stem)["steps"])


# ----- the score is honest --------------------------------------------------------------------
def test_step_zero_is_not_scored_and_each_check_compares_something(reports):
    for name, r in reports.items():
        assert [s.index for s in r.steps] == list(range(1, len(trace(name)["steps"]))), name
        for s in r.steps:
            keys = set(s.checks)
            if r.workload:
                assert keys == {"plugged", "outcome"}, (name, s.index)
            else:
                assert {"plugged", "outcome"} <= keys <= {"plugged", "MemTotal", "outcome", "requests", "blocks"}
            assert "usable_region_size" not in keys   # QEMU arithmetic is reported, never scored


def test_requests_and_blocks_are_compared_until_the_first_stall():
    r = oracle.replay(trace("basic-normal"))
    stalled = next(s.index for s in r.steps if s.real.outcome == "stalled")
    for s in r.steps:
        assert ("requests" in s.checks) == (s.index < stalled)
        assert ("blocks" in s.checks) == (s.index < stalled)


def test_a_gap_smaller_than_one_subblock_is_no_stall_and_stays_fully_compared():
    r = oracle.replay(trace("blk1m-movable"))      # 1 MiB device blocks, 2 MiB subblocks: 101M -> 100M
    assert r.steps[0].real.outcome == "stalled" and "requests" in r.steps[0].checks


def test_a_wrong_plugged_size_is_a_mismatch_even_in_a_workload_trace():
    t = trace("hog-movable")
    t["steps"][3]["qmp"]["query_memory_devices"]["size"] = 384 * MiB   # the old model's answer
    r = oracle.replay(t)
    assert not r.steps[2].checks["plugged"] and r.score < 1
    t["steps"][3]["qmp"]["query_memory_devices"]["size"] = 512 * MiB + 40 * MiB   # within max(16 MiB, 10 %)
    assert oracle.replay(t).steps[2].checks["plugged"]


def test_the_default_placement_does_not_read_the_answer_from_the_trace():
    t = trace("basic-normal")
    doctored = copy.deepcopy(t)
    for s in doctored["steps"]:       # move the stuck subblocks the real guest showed elsewhere
        for b in s["guest"]["device_memory_blocks"]:
            b["device_plugged"] = b["device_plugged"][::-1]
    a, b = oracle.replay(t), oracle.replay(doctored)
    assert [s.model.ops for s in a.steps] == [s.model.ops for s in b.steps]
    ta, tb = oracle.replay(t, placement="trace"), oracle.replay(doctored, placement="trace")
    assert [s.model.ops for s in ta.steps] != [s.model.ops for s in tb.steps]   # the diagnostic does read it


def test_the_trace_placement_is_labelled_as_a_diagnostic():
    r = oracle.replay(trace("basic-normal"), placement="trace")
    assert "DIAGNOSTIC" in oracle.format_report(r) and oracle.report_json(r)["placement"] == "trace"


def test_json_keeps_a_real_and_a_model_record_per_step_and_the_score_can_be_recomputed(reports):
    js = oracle.report_json(reports["numa2-normal"])
    for s in js["steps"]:
        for side in ("real", "model"):
            assert {"ops", "plugged", "usable", "MemTotal", "MemFree", "blocks", "outcome"} <= set(s[side])
            assert set(s[side]["devices"]) == {"vmem0", "vmem1"}
    checks = [v for s in js["steps"] for v in s["checks"].values()]
    assert js["score"] == sum(checks) / len(checks) and js["checks_total"] == len(checks)
    step = js["steps"][0]
    assert step["real"]["plugged"] == step["model"]["plugged"] == 512 * MiB
    assert step["real"]["blocks"] == step["model"]["blocks"]


# ----- what the replay must run -------------------------------------------------------------------
def test_qmp_refused_steps_are_refused_by_the_model_and_change_nothing(reports):
    r = reports["qmp-refused"]
    refused = [s for s in r.steps if s.real.outcome == "refused"]
    assert len(refused) == 2
    for s in refused:
        assert s.model.outcome == "refused" and s.model.ops == [] and s.model.plugged == {"vmem0": 512 * MiB}
        assert s.ok


def test_a_refusal_that_ended_an_unrecorded_trace_counts_as_refused_not_as_guest_death():
    t = trace("basic-movable")
    t["steps"] = t["steps"][:3] + [{"step": 3, "spec": "3M", "guest_dead": True, "requested_size": 3 * MiB,
                                    "error": "RuntimeError(\"QMP qom-set failed: {'class': 'GenericError'}\")",
                                    "qmp": {"query_memory_devices": {"size": 512 * MiB}}}]
    r = oracle.replay(t)
    last = r.steps[-1]
    assert last.real.outcome == last.model.outcome == "refused" and last.ok


def test_the_guest_dies_like_the_real_one(reports):
    for name in ("oom-normal", "fill-movable"):
        last = reports[name].steps[-1]
        assert last.real.outcome == last.model.outcome == "guest-dead", name
    plan = oracle.parse(trace("oom-normal"))
    m = oracle.build_machine(plan)
    work = oracle._Workload(plan)
    for i in range(1, len(plan.trace["steps"])):
        oracle.apply_step(m, plan, i, work)
    assert m.guest.dead.startswith("System is deadlocked on memory")


def test_two_devices_on_two_nodes_and_the_q35_memory_layout():
    cfg = oracle.parse(trace("numa2-normal")).config
    assert cfg.nodes == 2 and cfg.node_memory == (512 * MiB, 512 * MiB)
    assert [(d.id, d.node, d.addr) for d in cfg.devices] == [("vmem0", 0, 4 * GiB), ("vmem1", 1, 8 * GiB)]
    cfg = oracle.parse(trace("boot4g-normal")).config
    assert cfg.below_4g == 2 * GiB and cfg.devices[0].addr == 6 * GiB
    assert oracle.parse(trace("boot2g-normal")).config.below_4g == 0       # 2 GiB fit below the PCI hole


def test_config_comes_from_the_trace_metadata():
    cfg = oracle.parse(trace("bbm-512m")).config
    assert cfg.force_bbm and cfg.bbm_block_size == 512 * MiB and cfg.auto_online_blocks == "online_movable"
    assert cfg.holes == 130 * 4096           # 262014 present pages of 262144 (the zones' data)
    cfg = oracle.parse(trace("am-ratio50-boot2g")).config
    assert cfg.online_policy == "auto-movable" and cfg.auto_movable_ratio == 50
    assert not oracle.parse(trace("unplug-online0")).config.unplug_online


# ----- errors: one line, naming the field ---------------------------------------------------------
def _bad(tmp_path, name, mutate):
    t = trace("basic-movable")
    mutate(t)
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(t))
    return p


BAD = [
    ("no-meta", lambda t: t.pop("meta"), "meta: missing"),
    ("no-steps", lambda t: t.update(steps=[]), "steps: missing or empty"),
    ("bad-m", lambda t: t["meta"]["qemu_cmdline"].__setitem__(t["meta"]["qemu_cmdline"].index("-m") + 1,
                                                              "1G,maxmem=8G,prealloc=on"),
     "meta.qemu_cmdline: -m option 'prealloc' is not understood"),
    ("quotes", lambda t: t["meta"].update(kernel_cmdline="console=ttyS0 memhp_default_state='online"),
     "meta.kernel_cmdline"),
    ("policy", lambda t: t["meta"].update(kernel_cmdline="memhp_default_state=sometimes"),
     "memhp_default_state: 'sometimes' is not allowed"),
    ("spec", lambda t: t["steps"][2].update(spec="grow:1G"), "steps[2].spec: 'grow:1G' is not a step of the harness"),
    ("memtotal", lambda t: t["steps"][3]["guest"]["meminfo_kB"].pop("MemTotal"), "steps[3].guest.meminfo_kB.MemTotal"),
    ("size-type", lambda t: t["steps"][1]["qmp"]["query_memory_devices"].update(size="big"),
     "steps[1].qmp.query_memory_devices.size: expected int"),
]


@pytest.mark.parametrize("name, mutate, needle", BAD, ids=[b[0] for b in BAD])
def test_schema_errors_are_one_line_naming_the_field(tmp_path, name, mutate, needle):
    r = oracle.replay_path(_bad(tmp_path, name, mutate))
    assert r.error and needle in r.error and "\n" not in r.error and r.score == 0


def test_a_folder_run_reports_every_trace_and_a_broken_one_in_one_line(tmp_path, capsys):
    from vmemlab.cli import main
    for name in ("basic-movable", "qmp-refused"):
        (tmp_path / f"{name}.json").write_text((FIXTURES / f"{name}.json").read_text())
    (tmp_path / "garbage.json").write_text("{not json")
    _bad(tmp_path, "no-meta", BAD[0][1])
    assert main(["replay-real", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    summary = out[out.index("== summary"):].splitlines()
    assert summary[0] == "== summary: 4 traces, 2 replayed, 2 could not run"
    assert any(line.split()[:2] == ["garbage", "0.000"] and "not JSON" in line for line in summary)
    assert any(line.split()[:2] == ["basic-movable", "1.000"] for line in summary)


def test_cli_json_over_the_fixture_folder(capsys):
    from vmemlab.cli import main
    assert main(["replay-real", str(FIXTURES), "--json", "--min-score", str(MIN_SCORE)]) == (1 if KNOWN_MISMATCH else 0)
    data = json.loads(capsys.readouterr().out)
    assert sorted(d["name"] for d in data) == sorted(p.stem for p in TRACES)
    assert all(d["error"] is None and (d["score"] >= MIN_SCORE or d["name"] in KNOWN_MISMATCH) for d in data)


def test_a_run_that_removed_a_block_runs_again_at_once_after_enomem_as_the_real_kernel_did():
    """hog-fill-normal-kprobes: kretprobes on alloc_contig_range() show memory35's whole-block attempt
    returning -ENOMEM, then at once (the work item was queued again when memory36 was removed) a
    second attempt returning -EBUSY without migrating anything (the put-back pages are still in the
    per-CPU LRU-add batch), then single subblocks. The model tells the same story for that step."""
    t = trace("hog-fill-normal-kprobes")
    dmesg = t["steps"][4]["guest"]["dmesg_new"]
    rets = [line.rsplit("ret=", 1)[1] for line in dmesg if " acr: " in line]
    assert rets[12:15] == ["0xfffffff4", "0xfffffff0", "0x0"]       # 12 blocks, then ENOMEM, EBUSY, a subblock
    plan = oracle.parse(t)
    m = oracle.build_machine(plan)
    work = oracle._Workload(plan)
    for i in range(1, 4):
        oracle.apply_step(m, plan, i, work)
        m.take_events()
    oracle.apply_step(m, plan, 4, work)
    texts = [e.text for e in m.take_events() if e.kind.value == "retry" or e.text.startswith("memory35 subblock")]
    assert "subblocks 0-63, 128M: alloc_contig_range failed with -ENOMEM" in texts[0]
    assert "so the driver runs again at once" in texts[1]
    assert "subblocks 0-63" in texts[2] and "LRU-add batch" in texts[2]
    assert texts[3].startswith("memory35 subblock 63, 2M fake-offlined")
    assert "-ENOMEM" in texts[-2] and "next try in 50 s" in texts[-1]
    assert 384 * MiB < m.devices[0].plugged_size < 512 * MiB   # single subblocks of memory35 went, as in the real run
