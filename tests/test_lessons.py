"""Every shipped lesson meets all its expectations; together lessons 01-14 cover the course."""
import re
from dataclasses import fields
from importlib import resources

import pytest

from vmemlab.core import expect
from vmemlab.core.actions import ACTIONS
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.events import Kind
from vmemlab.core.mirrors import MIRRORS
from vmemlab.core.scenario import builtin, lesson_files

COURSE = [n for n in lesson_files() if int(n[:2]) <= 14]


@pytest.mark.parametrize("name", lesson_files())
def test_lesson_meets_every_expectation(name):
    sc = builtin(name)
    expect.validate_scenario(sc)
    checks = [c for g in expect.check_run(sc) for c in g.checks]
    failed = [f"{c.key}: expected {c.expected}, actual {c.actual}" for c in checks if not c.ok]
    assert not failed, failed
    assert len(checks) >= 5 or name not in COURSE      # 15-19 are graded by vmemlab compare


@pytest.mark.parametrize("name", COURSE)
def test_course_lesson_is_narrated_and_asks_questions(name):
    sc = builtin(name)
    assert sc.title.startswith(name[:2]) and len(sc.intro.split()) >= 30
    assert all(s.note or s.action.name == "note" or s.expect for s in sc.steps)
    asked = [s for s in sc.steps if s.ask]
    assert asked and all(s.answer for s in asked)
    assert sum(bool(s.expect) for s in sc.steps) >= len(sc.steps) // 2


def test_the_course_has_at_least_twelve_lessons():
    assert len(COURSE) >= 12 and COURSE[0].startswith("01_")


def _course():
    return [builtin(n) for n in COURSE]


def test_course_uses_the_actions_each_teaching_scenario_needs():
    used = {(s.action.name, s.action.arg("race")) for sc in _course() for s in sc.steps}
    names = {n for n, _ in used}
    assert ("request", True) in used                                        # NACK race
    assert {"step", "migration", "retry", "buggy_request", "reset", "kexec", "online", "offline",
            "fragment", "pin", "alloc", "free", "grow", "shrink"} <= names


def test_course_machines_cover_numa_bbm_policies_and_big_regions():
    configs = [sc.config for sc in _course()]
    assert any(c.nodes == 2 and len({d.node for d in c.devices}) == 2 for c in configs)
    assert any(c.arch == "arm64-64k" for c in configs)
    assert {c.auto_online_blocks for c in configs} >= {"offline", "online", "online_movable"}
    assert any(c.online_policy == "auto-movable" for c in configs)
    assert any(d.region_size >= 4 << 40 for c in configs for d in c.devices)


def test_lesson_outcomes_match_the_facts():
    """A few numbers each lesson exists to show, read from the model right after the step."""
    first = next(expect.check_run(builtin("01_resizable_dimm.toml"))).state
    assert first.machine.metrics().mem_total - first.before.mem_total == 2 << 20   # +2 MiB, not +128 MiB

    nack = [g.state.events for g in expect.check_run(builtin("09_nack_race.toml"))][3]
    assert [e.response for e in nack if e.kind == Kind.REQUEST] == ["NACK"]

    backoff = [g.sandbox.machine.drivers[0].retry_timer_ms // 1000
               for g in expect.check_run(builtin("06_zone_normal_stuck.toml"))]
    assert backoff[7:11] == [100, 200, 300, 300]

    for g in expect.check_run(builtin("14_big_block_mode.toml")):
        pass
    m = g.sandbox.machine
    assert m.drivers[0].mode == "BBM" and m.devices[0].plugged_size == 2 << 30 > m.devices[0].requested_size


def test_reboot_events_appear_once():
    g = list(expect.check_run(builtin("13_reboot_kexec.toml")))[2]
    assert sum("system reset" in e.text for e in g.state.events) == 1


def test_examples_readme_documents_every_action_key_expectation_and_mirror():
    text = resources.files("vmemlab.examples").joinpath("README.md").read_text(encoding="utf-8")
    for spec in ACTIONS.values():
        assert f"`{spec.name}`" in text, spec.name
        for p in spec.params:
            assert f"`{p.name}`" in text, f"{spec.name}.{p.name}"
            for choice in p.choices:
                assert f"`{choice}`" in text, f"{spec.name}.{p.name}={choice}"
    for cls in (MachineConfig, DeviceConfig):
        for f in fields(cls):
            if f.name != "devices":
                assert f"`{f.name}`" in text, f.name
    for key in expect.KEYS:
        assert f"`{key}`" in text, key
    for name in MIRRORS:
        assert f"`{name}`" in text, name
    for name in COURSE:
        assert f"`{name}`" in text, name


# ----- every ask is graded by --quiz --------------------------------------------------------
def _right_and_wrong(step, graded) -> tuple[str, str]:
    """A prediction the quiz must call RIGHT and one it must call WRONG, from the model's value."""
    from vmemlab.core.quiz import gradable_key
    from vmemlab.core.units import format_size
    key = gradable_key(step.expect)
    assert key is not None, f"step {step.index}: the ask has no expectation the quiz can grade"
    if key == "compare":
        first = next(c for c in graded.checks if c.key.startswith("compare."))
        wrong = next(w for w in ("0", "99999", "-99999G", "99999G", "refused", "failed", "ok")
                     if not _meets(step.expect["compare"], w))
        return first.actual, wrong
    if key == "block":
        ids = [b["id"] for b in (step.expect["block"] if isinstance(step.expect["block"], list)
                                 else [step.expect["block"]])]
        return " ".join(f"memory{i}" for i in ids), "memory99999"
    actual = expect.actual_value(key, graded.state)
    kind = expect.KEYS[key].kind
    if kind in ("size", "change"):
        sign = "-" if actual < 0 else ("+" if kind == "change" else "")
        return sign + format_size(abs(actual)), format_size(abs(actual) + (7 << 20))
    if kind == "ids":
        return " ".join(map(str, actual)) or "none", "99999"
    if kind == "counts":
        first = str(next(iter(step.expect[key]))).upper()
        return str(actual.get(first, 0)), str(actual.get(first, 0) + 7)
    if isinstance(actual, str):
        other = next(s for s in expect.DRIVER_STATES + expect.GUEST_STATES if s not in actual)
        return actual, other
    return str(actual), str(actual + 12345)


def _meets(table, prediction: str) -> bool:
    from vmemlab.core.compare.expectations import prediction_meets
    return prediction_meets(table, prediction)[1]


@pytest.mark.parametrize("name", lesson_files())
def test_quiz_grades_every_ask_right_and_wrong(name, capsys):
    """Every ask of every lesson is graded by ``vmemlab run --quiz``: the model's own value is
    RIGHT, a different one is WRONG."""
    import io

    from vmemlab.commands.run import run_quiz
    sc = builtin(name)
    answers = [_right_and_wrong(s, g) for s, g in zip(sc.steps, expect.check_run(sc)) if s.ask]
    for pick, verdict in ((0, "RIGHT"), (1, "WRONG")):
        run_quiz(sc, io.StringIO("".join(a[pick] + "\n" for a in answers)))
        out = capsys.readouterr().out
        assert "not graded" not in out
        assert out.count(f"   {verdict}: ") == len(answers), out
    assert len(answers) >= 1 or name == "default.toml"


IMPERATIVE_COMMAND = re.compile(r"\b(run|type|enter|press|execute)\s+(it\s+)?(with\s+)?`", re.IGNORECASE)


@pytest.mark.parametrize("name", lesson_files() + ["default.toml"])
def test_no_lesson_text_tells_a_browser_user_to_run_a_terminal_command(name):
    """The same lesson plays in the TUI, the web page and the static site: a command may be
    named ("the Compare view, `vmemlab compare`"), never ordered ("Run it with `vmemlab ...`")."""
    sc = builtin(name)
    texts = [sc.title, sc.intro] + [t for s in sc.steps for t in (s.title, s.note, s.ask, s.answer)]
    assert not [t for t in texts if IMPERATIVE_COMMAND.search(t)]
