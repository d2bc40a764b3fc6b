"""vmemlab run --check/--quiz/--trace/--metrics, vmemlab show and vmemlab replay, driven as a user would."""
import csv
import io
import json

import pytest

from vmemlab.cli import main

LAB = """
title = "mini lab"
[machine]
boot_memory = "1G"
auto_online_blocks = "online_movable"
[[device]]
region_size = "4G"
[[step]]
action = "request"
size = "1G"
ask = "How much is plugged?"
answer = "All of it."
expect = { plugged_size = "1G" }
[[step]]
action = "request"
size = "896M"
ask = "Which block goes?"
expect = { first_removed = 39, memmap = "%s" }
"""


def lab(tmp_path, memmap: str = "14M"):
    path = tmp_path / "lab.toml"
    path.write_text(LAB % memmap)
    return str(path)


def test_check_passes_and_prints_each_expectation(tmp_path, capsys):
    assert main(["run", lab(tmp_path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "PASS plugged_size = 1G" in out and "PASS first_removed = 39" in out
    assert out.rstrip().endswith("== check: 3 of 3 expectations met")


def test_check_fails_with_expected_and_actual(tmp_path, capsys):
    assert main(["run", lab(tmp_path, "10M"), "--check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL memmap: expected 10M, actual 14M" in out and "1 FAILED" in out


def test_without_check_failures_do_not_change_the_exit_code(tmp_path, capsys):
    assert main(["run", lab(tmp_path, "10M")]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_bad_expect_key_exits_2_naming_file_step_and_key(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(LAB.replace("first_removed", "first_remove") % "14M")
    with pytest.raises(SystemExit) as e:
        main(["run", str(path), "--check"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}: step 2 (request): expect: unknown key 'first_remove'; allowed:" in err
    assert "first_removed" in err


def test_json_records_carry_the_checks(tmp_path, capsys):
    assert main(["run", lab(tmp_path), "--check", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[1]["checks"][0] == {"key": "first_removed", "ok": True, "expected": "39", "actual": "39"}


def test_quiz_reads_piped_predictions_and_scores_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("1G\nmemory38\n"))
    assert main(["run", lab(tmp_path), "--quiz"]) == 0
    out = capsys.readouterr().out
    assert out.index("?  How much is plugged?") < out.index("RIGHT: you said 1G; plugged_size is 1G")
    assert "answer: All of it." in out
    assert "WRONG: you said memory38; first_removed is 39" in out
    assert "memory39 offlined and removed" in out            # the explanation: the step's events
    assert out.rstrip().endswith("== score: 1 of 2 predictions right")


def test_quiz_survives_end_of_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["run", lab(tmp_path), "--quiz"]) == 0
    assert "== score: 0 of 2 predictions right" in capsys.readouterr().out


def test_trace_and_metrics_then_replay(tmp_path, capsys):
    trace, metrics = tmp_path / "t.json", tmp_path / "m.csv"
    assert main(["run", "--trace", str(trace), "--metrics", str(metrics), lab(tmp_path)]) == 0
    rows = list(csv.DictReader(metrics.open()))
    assert [r["step"] for r in rows] == ["0", "1", "2"] and rows[2]["plugged"] == str(896 << 20)
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "replayed 2 actions" in out and "identical: the metrics after every action and all" in out


def test_replay_reports_a_difference(tmp_path, capsys):
    trace = tmp_path / "t.json"
    main(["run", "--trace", str(trace), lab(tmp_path)])
    data = json.loads(trace.read_text())
    data["actions"][1]["size"] = "768M"
    trace.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 1
    assert "DIFFERENT: action 2 (request size=768M" in capsys.readouterr().out


def test_replay_of_a_non_trace_exits_2(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text("[]")
    assert main(["replay", str(path)]) == 2
    assert "not a vmemlab trace" in capsys.readouterr().err


@pytest.mark.parametrize("argv_tail", [["--at", "1", "FILE"], ["FILE", "--at", "1"]])
def test_show_after_a_step(tmp_path, capsys, argv_tail):
    argv = ["show", "lsmem"] + [lab(tmp_path) if a == "FILE" else a for a in argv_tail]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "32-39" in out and "Total online memory:       2G" in out


def test_show_at_boot_and_all(tmp_path, capsys):
    assert main(["show", "all", "--at", "0", lab(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "$ lsmem" in out and "$ (qemu) info memory-devices" in out and "  size: 0" in out


def test_show_rejects_a_step_that_does_not_exist(tmp_path, capsys):
    assert main(["show", "meminfo", "--at", "9", lab(tmp_path)]) == 2
    assert "step 9 does not exist; allowed: 0 to 2" in capsys.readouterr().err


def test_quiz_on_a_shipped_lesson_grades_sizes_counts_and_block_names(capsys, monkeypatch):
    from vmemlab.core.scenario import lesson_files
    from importlib import resources
    path = str(resources.files("vmemlab.examples").joinpath(lesson_files()[0]))
    monkeypatch.setattr("sys.stdin", io.StringIO("2 MiB\nnone\nmemory39\n8\n"))
    assert main(["run", path, "--quiz"]) == 0
    out = capsys.readouterr().out
    assert "RIGHT: you said memory39; block is memory39" in out
    assert out.rstrip().endswith("== score: 4 of 4 predictions right")


def test_run_pauses_the_cyclic_gc_but_collects_what_a_reboot_left():
    """`vmemlab run` pauses Python's cyclic garbage collector while steps play (it walked a 4 TiB
    step's events over and over), and collects after a step that rebooted: the old guest
    (a reference cycle with its drivers) is freed, and the collector is on again afterwards."""
    import gc
    import weakref

    from vmemlab.commands.run import _cyclic_gc_between_reboots
    from vmemlab.core.config import DeviceConfig, MachineConfig
    from vmemlab.core.machine import Machine

    m = Machine(MachineConfig(devices=(DeviceConfig(region_size=1 << 30),)))
    assert gc.isenabled()
    with _cyclic_gc_between_reboots() as after_step:
        assert not gc.isenabled()
        after_step(m)
        old = weakref.ref(m.guest)
        m.reboot(reset_devices=True)
        assert old() is not None           # a cycle: only the collector frees it
        after_step(m)
        assert old() is None
    assert gc.isenabled()
