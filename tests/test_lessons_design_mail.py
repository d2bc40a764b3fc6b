"""Lessons 20-26, what the design mail teaches beyond the course: narrated, every ask graded by
the quiz (a right prediction scores, a wrong one does not), every step checked."""
import pytest

from vmemlab.core import expect
from vmemlab.core.scenario import builtin, lesson_files
from vmemlab.core.units import format_size
from vmemlab.core.quiz import gradable_key

LESSONS = [n for n in lesson_files() if int(n[:2]) >= 20]
CHOICES = {"guest": ("alive", "dead"), "sleep": ("refused", "none"), "driver": expect.DRIVER_STATES}


def predictions(key: str, actual, first: str) -> tuple[str, str]:
    """A right and a wrong prediction for the model's value ``actual`` of ``key``."""
    kind = expect.KEYS[key].kind
    if kind in ("size", "change"):
        sign = "+" if kind == "change" and actual > 0 else ""
        return sign + format_size(actual), sign + format_size(actual + (2 << 20))
    if kind == "ids":
        return " ".join(map(str, actual)) or "none", "1"
    if kind == "counts":
        return str(actual[first]), str(actual[first] + 1)
    if isinstance(actual, str):
        return actual, next(c for c in CHOICES[key] if c != actual)
    return str(actual), str(actual + 1)


def test_there_are_seven_design_mail_lessons():
    assert [n[:2] for n in LESSONS] == ["20", "21", "22", "23", "24", "25", "26"]


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_is_narrated_checked_and_every_ask_is_graded(name):
    sc = builtin(name)
    assert sc.title.startswith(name[:2]) and len(sc.intro.split()) >= 30
    assert all(s.note or s.expect for s in sc.steps)
    asked = [s for s in sc.steps if s.ask]
    assert asked and all(s.answer and gradable_key(s.expect) for s in asked)
    assert sum(bool(s.expect) for s in sc.steps) >= len(sc.steps) - 1


@pytest.mark.parametrize("name", LESSONS)
def test_quiz_grades_a_right_and_a_wrong_prediction_for_every_ask(name):
    sc = builtin(name)
    for step, graded in zip(sc.steps, expect.check_run(sc)):
        assert all(c.ok for c in graded.checks), [c for c in graded.checks if not c.ok]
        if not step.ask:
            continue
        key = gradable_key(step.expect)
        actual = expect.actual_value(key, graded.state)
        first = str(next(iter(step.expect[key]))).upper() if isinstance(step.expect[key], dict) else ""
        right, wrong = predictions(key, actual, first)
        assert expect.words_match(right, key, actual, first), (step.index, key, right, actual)
        assert not expect.words_match(wrong, key, actual, first), (step.index, key, wrong, actual)


@pytest.mark.parametrize("name", LESSONS)
def test_no_lesson_tells_a_browser_user_to_type_a_command(name):
    sc = builtin(name)
    texts = [sc.intro] + [t for s in sc.steps for t in (s.note, s.ask, s.answer)]
    for t in texts:
        low = t.lower()
        assert not any(w in low for w in ("run it with", "`vmemlab", "terminal", "$ vmemlab", "in your shell")), t
