"""Lessons 15-19 pass their compare expectations; the vmemlab compare command and its errors."""
import json
from pathlib import Path

import pytest

from vmemlab.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUICK = ["15_balloon_fragments.toml", "16_balloon_boots_at_max.toml", "18_dimm_all_or_nothing.toml",
         "19_balloon_numa.toml"]


@pytest.mark.parametrize("name", QUICK + [pytest.param("17_dimm_slots_4t.toml", marks=pytest.mark.slow)])
def test_lesson_contrasts_hold(name, capsys):
    assert main(["compare", str(EXAMPLES / name)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "FAIL" not in out


def test_default_is_the_fragmentation_lesson_and_json_has_checks(capsys):
    assert main(["compare", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["title"].startswith("15 ") and all(c["ok"] for r in data["rows"] for c in r["checks"])


def test_a_failed_contrast_exits_1(capsys):
    assert main(["compare", "--balloon-placement", "scattered"]) == 1
    assert "FAIL compare.balloon.host_thp_split" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--dimm-size", "100M"], "dimm_size: 100M is not allowed"),
    (["--dimm-size", "big"], "--dimm-size: 'big' is not a size"),
    (["--dimm-slots", "300"], "dimm_slots: 300 is not allowed; allowed: 1 to 256"),
    (["/nonexistent.toml"], "cannot read the file"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_compare_expectation_names_file_and_step(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('[[step]]\naction = "grow"\nexpect = { compare = { dimm = { slot = 1 } } }\n')
    with pytest.raises(SystemExit):
        main(["compare", str(f)])
    assert "step 1 (grow): compare.dimm.slot: unknown metric" in capsys.readouterr().err


@pytest.mark.parametrize("name", QUICK)
def test_grade_scenario_is_the_run_check_hook(name):
    from vmemlab.core.compare.expectations import grade_scenario
    from vmemlab.core.scenario import builtin
    checks = [c for cs in grade_scenario(builtin(name)).values() for c in cs]
    assert len(checks) >= 5 and all(c.ok for c in checks)
