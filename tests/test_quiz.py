"""core.quiz: a prediction is graded the same way in the terminal (run --quiz) and the browser."""
from __future__ import annotations

from vmemlab.core import quiz
from vmemlab.core.scenario import builtin
from vmemlab.core.session import Session


def played_to(name: str, k: int) -> tuple[Session, object]:
    s = Session(builtin(name))
    for _ in range(k):
        s.play_lesson_step()
    return s, s.scenario.steps[k - 1]


def test_a_size_prediction_is_graded_by_value_not_by_spelling():
    s, step = played_to("01_resizable_dimm.toml", 1)             # "By how much does MemTotal grow?" +2M
    assert quiz.grade_last_step(step, "2 MiB", s.sandbox).ok
    assert quiz.grade_last_step(step, "+2M", s.sandbox).ok
    wrong = quiz.grade_last_step(step, "128M", s.sandbox)
    assert wrong.ok is False and wrong.key == "mem_total_change" and "WRONG: you said 128M" in wrong.text()


def test_a_block_prediction_names_the_block():
    s, step = played_to("01_resizable_dimm.toml", 4)             # "Which memory block becomes partly plugged?"
    assert quiz.asks_for_a_block(step)
    assert quiz.grade_last_step(step, "memory39", s.sandbox).ok
    assert not quiz.grade_last_step(step, "memory38", s.sandbox).ok


def test_counts_and_lists():
    s, step = played_to("02_whole_block_removal.toml", 5)       # "Which blocks are removed?" [38, 39]
    assert quiz.grade_last_step(step, "38 and 39", s.sandbox).ok
    assert not quiz.grade_last_step(step, "39", s.sandbox).ok


def test_a_step_without_a_gradable_expectation_is_not_graded_and_a_huge_answer_is_cut():
    s, step = played_to("07_zone_movable_works.toml", 3)
    g = quiz.grade_last_step(step, "9" * 5000, s.sandbox)
    assert g.ok is None and "not graded" in g.text() and len(g.said) == quiz.MAX_PREDICTION
    s, step = played_to("01_resizable_dimm.toml", 1)
    assert quiz.grade_last_step(step, "9" * 5000, s.sandbox).ok is False   # no traceback on 5000 digits
