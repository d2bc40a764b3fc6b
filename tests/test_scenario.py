"""Scenario files: parsing, and errors that name the file, step, field and allowed values."""
import pytest

from vmemlab.core.scenario import ScenarioError, default, lesson_files, parse

GOOD = """
title = "t"
[machine]
boot_memory = "1G"
auto_online_blocks = "online_movable"
[[device]]
region_size = "4G"
[[step]]
action = "request"
size = "256M"
note = "grow"
"""


def test_parse_good_scenario():
    sc = parse(GOOD, "good.toml")
    assert sc.config.devices[0].region_size == 4 << 30
    assert sc.steps[0].action.arg("size") == 256 << 20 and sc.steps[0].settle


@pytest.mark.parametrize("text,needle", [
    ("title = [", "not valid TOML"),
    (GOOD + "\n[[step]]\naction = 'teleport'\n", "step 2 (teleport): action: 'teleport' is not known; allowed: request"),
    (GOOD + "\n[[step]]\naction = 'request'\nsize = '3X'\n", "step 2 (request): request.size: '3X' is not a size"),
    (GOOD + "\n[[step]]\naction = 'request'\nsise = '3M'\n", "unknown field 'sise'; allowed: device, race, size"),
    (GOOD.replace('auto_online_blocks = "online_movable"', 'auto_online_blocks = "sometimes"'),
     "machine.auto_online_blocks: 'sometimes' is not allowed; allowed: offline, online, online_kernel, online_movable"),
    (GOOD.replace('region_size = "4G"', 'region_size = "100M"'), "region_size: 100M must be a multiple of block_size 2M and at least 128M"),
    (GOOD.replace('region_size = "4G"', 'region_size = "4G"\ncolour = "red"'), "device 1: unknown key 'colour'"),
    (GOOD.replace('boot_memory = "1G"', 'boot_memory = 12'), "boot_memory"),
    (GOOD + "\n[[step]]\naction = 'settle'\nsettle = 'yes'\n", "settle: expected true or false"),
    ("bogus = 1", "unknown top-level key 'bogus'"),
])
def test_malformed_scenarios_name_the_problem(text, needle):
    with pytest.raises(ScenarioError) as e:
        parse(text, "lab.toml")
    assert "lab.toml" in str(e.value) and needle in str(e.value)


def test_default_and_lessons_parse():
    assert default().steps
    for name in lesson_files():
        assert name.endswith(".toml")
