"""Scenario files: parsing, and errors that name the file, step, field and allowed values."""
import pytest

from vmemlab.core.scenario import ScenarioError, default, lesson_files, load, parse, with_seed

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


MACHINE = '[machine]\nboot_memory = "1G"\n[[device]]\nregion_size = "4G"\n'


@pytest.mark.parametrize("text,needle", [
    (MACHINE + "addr = 0\n", "devices[0] (vmem0).addr: 0x0 overlaps boot memory"),
    (MACHINE + 'addr = "16777215T"\n', "addr"),
    (MACHINE + "addr = " + "1" * 30 + "\n", "addr"),
    (MACHINE.replace('boot_memory = "1G"', "nodes = 0"), "machine.nodes: 0 is not allowed; use 1 to 8"),
    (MACHINE.replace('boot_memory = "1G"', "seed = -1"), "machine.seed: -1 is not allowed; allowed: 0 to 2^64-1"),
    (MACHINE.replace('boot_memory = "1G"', "seed = 18446744073709551616"), "machine.seed"),
    (MACHINE.replace('boot_memory = "1G"', "seed = 1.5"), "seed: expected a whole number"),
    (MACHINE.replace('boot_memory = "1G"', "unplug_online = \"no\""), "unplug_online: expected true or false"),
    (MACHINE.replace('boot_memory = "1G"', "nodes = true"), "nodes: expected a whole number"),
    (MACHINE + 'id = "vmem 0"\n', "id: 'vmem 0' is not a QEMU id"),
    (MACHINE + "id = 7\n", "id: expected a string"),
    (MACHINE + "[[step]]\naction = [\"request\"]\n", "step 1: action: expected a string; allowed: request"),
    (MACHINE + "[[step]]\naction = \"settle\"\nexpect = { devices = { nope = { plugged_size = \"1G\" } } }\n",
     "step 1 (settle): devices.nope: no such device; allowed: vmem0"),
    (MACHINE + "[[step]]\naction = \"settle\"\nexpect = { colour = 1 }\n", "step 1 (settle): expect: unknown key"),
    (MACHINE.replace('"4G"', "9" * 5000), "not valid TOML"),
    (MACHINE.replace('"4G"', '"' + "9" * 5000 + '"'), "region_size: '99999"),
    ("x = " + "[" * 2000 + "]" * 2000, "nested too deeply"),
    ("x = " + "{a=" * 2000 + "1" + "}" * 2000, "nested too deeply"),
    (MACHINE + "[[step]]\naction = \"pin\"\ntries = 256\n", "pin.tries: 256 is not allowed; allowed: 1 to 255"),
    (MACHINE + "[[step]]\naction = \"alloc\"\nsize = 1\n", "alloc.size: 1B is not a whole number of 4K pages"),
    (MACHINE + "[[step]]\naction = \"step\"\ncount = " + "9" * 40 + "\n", "step.count"),
    (MACHINE + "[[step]]\naction = \"advance\"\nseconds = " + "9" * 400 + "\n", "advance.seconds"),
], ids=lambda v: v[:40])
def test_malformed_values_name_the_field_and_the_allowed_values(text, needle):
    with pytest.raises(ScenarioError) as e:
        parse(text, "lab.toml")
    assert str(e.value).startswith("lab.toml: ") and needle in str(e.value)
    assert "\n" not in str(e.value)


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'title = "ok"\nintro = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as e:
        load(path)
    assert "is not UTF-8" in str(e.value) and "line 2" in str(e.value) and "0xe9" in str(e.value)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufefftitle = \"Übung\"\n".encode())
    assert load(path).title == "Übung"


def test_a_folder_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError) as e:
        load(tmp_path)
    assert "cannot read the file" in str(e.value)


def test_with_seed_checks_the_range():
    with pytest.raises(ScenarioError) as e:
        with_seed(default(), -1)
    assert "seed: -1 is not allowed" in str(e.value)
    assert with_seed(default(), 2**64 - 1).config.seed == 2**64 - 1
