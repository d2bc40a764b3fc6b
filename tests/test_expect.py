"""Expectations: validation names the bad key and the allowed values; evaluation reports actual values."""
import pytest

from vmemlab.core import expect
from vmemlab.core.expect import ExpectError, check_run, validate, words_match
from vmemlab.core.scenario import ScenarioError, parse

MACHINE = """
[machine]
boot_memory = "1G"
auto_online_blocks = "online_movable"
[[device]]
region_size = "4G"
"""


def graded(steps: str) -> list[list[expect.Check]]:
    return [g.checks for g in check_run(parse(MACHINE + steps, "lab.toml"))]


def test_unknown_key_names_allowed_keys():
    with pytest.raises(ExpectError) as e:
        validate({"pluged_size": "1G"})
    assert "'pluged_size'" in str(e.value) and "plugged_size" in str(e.value) and "mem_total" in str(e.value)


@pytest.mark.parametrize("table, words", [
    ({"plugged_size": "lots"}, ["plugged_size", "'lots' is not a size"]),
    ({"driver": "sleeping"}, ["driver", "idle, working, waiting, blocked, broken"]),
    ({"blocks": {"MOVEABLE": 1}}, ["blocks.MOVEABLE", "MOVABLE_PARTIAL"]),
    ({"block": {"state": "MOVABLE"}}, ["block", "id = N"]),
    ({"block": {"id": 32, "colour": "red"}}, ["unknown field 'colour'", "zone"]),
    ({"mirror": {"free": "x"}}, ["unknown mirror 'free'", "lsmem"]),
    ({"removed": ["memory39"]}, ["removed", "list of memory block numbers"]),
    ({"time": True}, ["time", "expected a number"]),
])
def test_bad_values_say_what_is_allowed(table, words):
    with pytest.raises(ExpectError) as e:
        validate(table)
    for w in words:
        assert w in str(e.value)


def test_validate_scenario_names_file_step_and_key():
    """Loading the file validates its expect tables: every command that reads it refuses it."""
    with pytest.raises(ScenarioError) as e:
        parse(MACHINE + '[[step]]\naction = "request"\nsize = "1G"\nexpect = { memtotal = "1G" }\n', "lab.toml")
    assert str(e.value).startswith("lab.toml: step 1 (request): expect: unknown key 'memtotal'")


def test_checks_report_actual_values_and_failures():
    checks, = graded('[[step]]\naction = "request"\nsize = "1G"\n'
                     'expect = { plugged_size = "1G", blocks = { MOVABLE = 7 }, memmap = ">= 20M", added = 8 }\n')
    by_key = {c.key: c for c in checks}
    assert by_key["plugged_size"].ok and by_key["plugged_size"].actual == "1G"
    assert not by_key["blocks.MOVABLE"].ok and by_key["blocks.MOVABLE"].actual == "8"
    assert not by_key["memmap"].ok and by_key["memmap"].expected == ">= 20M" and by_key["memmap"].actual == "16M"
    assert by_key["added"].ok


def test_change_keys_compare_with_the_state_before_the_step():
    _, checks = graded('[[step]]\naction = "request"\nsize = "1G"\n'
                       '[[step]]\naction = "request"\nsize = "896M"\n'
                       'expect = { mem_total_change = "-128M", memmap_change = "-2M", removed = [39], first_removed = 39 }\n')
    assert all(c.ok for c in checks), checks
    assert {c.key: c.actual for c in checks}["memmap_change"] == "-2M"


def test_unlisted_block_states_must_be_zero():
    checks, = graded('[[step]]\naction = "request"\nsize = "130M"\nexpect = { blocks = { MOVABLE = 1 } }\n')
    failed = [c for c in checks if not c.ok]
    assert [c.key for c in failed] == ["blocks.MOVABLE_PARTIAL"] and failed[0].actual == "1"


def test_text_keys_look_only_at_this_steps_events_not_the_note():
    checks, = graded('[[step]]\naction = "request"\nsize = "1G"\nnote = "no NACK here"\n'
                     'expect = { event = "NACK", no_event = "BUSY", error = false }\n')
    assert [c.ok for c in checks] == [False, True, True]


def test_block_device_and_mirror_checks():
    checks, = graded('[[step]]\naction = "request"\nsize = "2M"\n'
                     'expect = { block = { id = 32, state = "movable_partial", zone = "ZONE_MOVABLE", plugged = "2M" },'
                     ' devices = { vmem0 = { plugged_size = "2M", driver = "idle", node = 0 } },'
                     ' mirror = { lsmem = "32", meminfo = "MemTotal:" } }\n')
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert len(checks) == 8


def test_block_that_is_not_guest_ram_fails_with_reason():
    checks, = graded('[[step]]\naction = "note"\ntext = "x"\nexpect = { block = { id = 20, online = true } }\n')
    assert not checks[0].ok and "memory20 is not guest RAM" in checks[0].actual


def test_refused_step_error_fragment():
    checks, = graded('[[step]]\naction = "request"\nsize = "301M"\nexpect = { error = "not a multiple", plugged_size = "0" }\n')
    assert all(c.ok for c in checks)


@pytest.mark.parametrize("answer, key, actual, ok", [
    ("300M", "plugged_size", 300 << 20, True),
    ("300 MiB", "plugged_size", 300 << 20, True),
    ("1G", "plugged_size", 300 << 20, False),
    ("memory39", "first_removed", 39, True),
    ("39 and 38", "removed", [38, 39], True),
    ("NACK", "responses", {"ACK": 0, "NACK": 1}, True),
    ("ACK", "responses", {"ACK": 0, "NACK": 1}, False),
    ("broken", "driver", "broken", True),
    ("", "driver", "broken", False),
])
def test_quiz_predictions_are_graded_by_meaning(answer, key, actual, ok):
    assert words_match(answer, key, actual) is ok


def test_compare_tables_are_validated_and_graded_against_the_side_by_side_run():
    with pytest.raises(ExpectError) as e:
        validate({"compare": {"ballon": {"free_2m_chunks": 0}}})
    assert "unknown model 'ballon'" in str(e.value)
    checks, = graded('[[step]]\naction = "request"\nsize = "1G"\n'
                     'expect = { plugged_size = "1G", compare = { balloon = { outcome = "ok" } } }\n')
    assert [c.key for c in checks] == ["plugged_size", "compare.balloon.outcome"]


def test_request_types_state_answers_and_repeated_requests_count_each_request():
    checks = graded('[[step]]\naction = "request"\nsize = "300M"\n'
                    '[[step]]\naction = "kdump"\nsettle = false\n'
                    'expect = { requests = 192, responses = { ACK = 192 }, request_types = { STATE = 192, PLUG = 0 }, '
                    'state_answers = { PLUGGED = 150, UNPLUGGED = 42, MIXED = 0 } }\n')[1]
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_sleep_and_no_mirror():
    checks = graded('[[step]]\naction = "request"\nsize = "128M"\n'
                    'expect = { sleep = "none", no_mirror = { e820 = "0x0000000100000000" } }\n'
                    '[[step]]\naction = "suspend"\n'
                    'expect = { sleep = "refused", no_mirror = { iomem = "virtio_mem" } }\n')
    assert [c.ok for c in checks[0]] == [True, True]
    assert [(c.key, c.ok) for c in checks[1]] == [("sleep", True), ("no_mirror.iomem", False)]


@pytest.mark.parametrize("answer, key, actual, ok", [
    ("none", "requests", 0, True),
    ("no request at all", "requests", 0, True),
    ("none", "requests", 3, False),
    ("STATE", "request_types", {"STATE": 192, "PLUG": 0}, True),
    ("UNPLUG_ALL", "request_types", {"STATE": 192, "UNPLUG_ALL": 0}, False),
    ("MIXED", "state_answers", {"MIXED": 1, "PLUGGED": 0}, True),
    ("refused", "sleep", "refused", True),
])
def test_quiz_grades_the_new_keys(answer, key, actual, ok):
    assert words_match(answer, key, actual) is ok
