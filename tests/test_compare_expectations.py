"""compare = {...} expectations: parsing with precise errors, grading against a comparison row."""
import pytest

from vmemlab.core.compare import compare
from vmemlab.core.compare.expectations import evaluate, parse, prediction_meets
from vmemlab.core.expect import ExpectError
from vmemlab.core.scenario import builtin


@pytest.fixture(scope="module")
def shrink():
    c = compare(builtin("15_balloon_fragments.toml"))
    return c.rows[2], c.summary


def test_passing_and_failing_checks(shrink):
    row, summary = shrink
    spec = parse({"balloon": {"host_thp_split": "<= 5", "outcome": "ok"},
                  "balloon_minus_virtio_mem": {"free_2m_chunks": "-9", "memmap": "16M"},
                  "dimm": {"granularity": "128M", "reached": "6G"}})
    checks = {c.key: c for c in evaluate(spec, row, summary)}
    assert all(checks[k].ok for k in checks if k != "compare.dimm.reached")
    bad = checks["compare.dimm.reached"]
    assert not bad.ok and (bad.expected, bad.actual) == ("6G", "5G")


@pytest.mark.parametrize("raw, message", [
    ({"ballon": {"memmap": "1G"}}, "unknown model 'ballon'; allowed: virtio_mem, balloon, dimm"),
    ({"balloon": {"memmapp": "1G"}}, "compare.balloon.memmapp: unknown metric; allowed: requested"),
    ({"balloon": {"outcome": "great"}}, "allowed: -, ok, rounded, partial, failed, refused"),
    ({"balloon": {"memmap": "lots"}}, "is not a size"),
    ({"dimm_minus_balloon": {"outcome": "ok"}}, "unknown metric"),
    ({}, "expected a table of models"),
])
def test_bad_expectations_name_the_key_and_the_allowed_values(raw, message):
    with pytest.raises(ExpectError, match=message.replace("(", r"\(")):
        parse(raw)


@pytest.mark.parametrize("table, prediction, right", [
    ({"balloon": {"host_thp_split": "<= 5"}}, "3", True),
    ({"balloon": {"host_thp_split": "<= 5"}}, "none at all", True),
    ({"balloon": {"host_thp_split": "<= 5"}}, "2000", False),
    ({"balloon": {"host_thp_split": ">= 500"}}, "about 600", True),
    ({"balloon": {"host_thp_split": ">= 500"}}, "", False),
    ({"dimm": {"granularity": "16G"}}, "16 GiB", True),
    ({"dimm": {"granularity": "16G"}}, "16M", False),
    ({"balloon": {"numa_misplaced": "1G"}}, "1024M", True),
    ({"balloon_minus_virtio_mem": {"memmap": "16M"}}, "-16M", False),
    ({"dimm": {"outcome": "failed", "reached": "3G"}}, "it failed", True),
    ({"dimm": {"outcome": "failed"}}, "ok", False),
    ({"dimm": {"detail": "MEM_UNPLUG_ERROR"}}, "mem_unplug_error", True),
])
def test_a_quiz_prediction_is_graded_against_the_first_compare_expectation(table, prediction, right):
    key, ok = prediction_meets(table, prediction)
    assert key == f"compare.{next(iter(table))}.{next(iter(next(iter(table.values()))))}" and ok is right
