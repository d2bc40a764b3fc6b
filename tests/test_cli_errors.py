"""Bad input on the command line: one line naming the file, field and allowed values, exit 2,
nothing written, nothing run; text from files never reaches the terminal raw."""
import io
import json
import subprocess
import sys
from importlib import resources

import pytest

from vmemlab.cli import main
from vmemlab.core.scenario import lesson_files

MACHINE = '[machine]\nboot_memory = "1G"\n[[device]]\nregion_size = "4G"\n'
BAD_FILES = {
    "addr0": (MACHINE + "addr = 0\n").encode(), "nodes0": b"[machine]\nnodes = 0\n",
    "seed": b"[machine]\nseed = -1\n", "action-list": b'[[step]]\naction = ["request"]\n',
    "expect-device": b'[[step]]\naction = "settle"\nexpect = { devices = { nope = { plugged_size = "1G" } } }\n',
    "digits": b"[[device]]\nregion_size = " + b"9" * 5000 + b"\n", "latin1": 'title = "caf\xe9"\n'.encode("latin-1"),
    "nesting": b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n", "huge-addr": (MACHINE + 'addr = "16777216T"\n').encode(),
}
COMMANDS = [["run"], ["show", "lsmem"], ["compare"], ["tui"], ["run", "--quiz"], ["show", "all", "--at", "0"]]


def run_main(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_command_that_reads_a_scenario_refuses_it_in_one_line(tmp_path, capsys, command, name):
    path = tmp_path / f"{name}.toml"
    path.write_bytes(BAD_FILES[name])
    code, out, err = run_main(command + [str(path)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(path) in err, err


@pytest.mark.parametrize("command", COMMANDS[:3], ids=" ".join)
def test_a_byte_order_mark_is_fine(tmp_path, capsys, command):
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufefftitle = \"Übung\"\n[[step]]\naction = \"request\"\nsize = \"256M\"\n".encode())
    code, out, _ = run_main(command + [str(path)], capsys)
    assert code == 0 and out


def test_serve_refuses_a_bad_file_before_it_serves(tmp_path):
    path = tmp_path / "nodes0.toml"
    path.write_bytes(BAD_FILES["nodes0"])
    out = subprocess.run([sys.executable, "-m", "vmemlab", "serve", "--port", "0", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == f"vmemlab: {path}: machine.nodes: 0 is not allowed; use 1 to 8"


@pytest.mark.parametrize("argv, words", [
    (["run", "-s", "-1"], "argument -s/--seed: '-1' is not allowed; allowed: 0 to 2^64-1"),
    (["run", "-s", "9" * 5000], "... is not allowed; allowed: 0 to 2^64-1"),
    (["show", "lsmem", "-s", "x"], "argument -s/--seed: 'x' is not a whole number"),
    (["show", "lsmem", "--at", "²"], "--at: '²' is not a whole number; allowed: a step number"),
    (["compare", "--dimm-size", "99999T"], "dimm_size: 99999T is not allowed; allowed: 0 (auto) or a multiple of the "
                                           "memory block size 128M up to 4G"),
    (["compare", "--dimm-slots", "0"], "dimm_slots: 0 is not allowed; allowed: 1 to 256"),
    (["compare", "--dimm-slots", "9" * 5000], "argument --dimm-slots: '999999999999999999999999999999999999... is not"),
    (["bench", "--sizes", "3X"], "argument --sizes: '3X' is not a size"),
    (["bench", "--sizes", "99999T"], "argument --sizes: '99999T' is not allowed; allowed: multiples of 128M up to 64T"),
    (["bench", "--repeats", "-3"], "argument --repeats: '-3' is not allowed; allowed: 1 to 1000"),
    (["tui", "--export-dir", "/no/such/folder"], "--export-dir: '/no/such/folder' is not a folder"),
])
def test_bad_options_exit_2_naming_the_option(capsys, argv, words):
    code, out, err = run_main(argv, capsys)
    assert code == 2 and out == "" and words in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("option, target, words", [
    ("--trace", "{tmp}", "--trace: '{tmp}' is a folder; give a file name in it, e.g. {tmp}/trace.json"),
    ("--trace", "{tmp}/missing/t.json", "--trace: '{tmp}/missing/t.json': the folder '{tmp}/missing' does not exist"),
    ("--metrics", "{tmp}", "--metrics: '{tmp}' is a folder"),
    ("--metrics", "{tmp}/missing/m.csv", "--metrics: '{tmp}/missing/m.csv': the folder '{tmp}/missing' does not exist"),
])
def test_an_export_that_cannot_be_written_fails_before_the_run(tmp_path, capsys, option, target, words):
    target, words = target.format(tmp=tmp_path), words.format(tmp=tmp_path)
    code, out, err = run_main(["run", option, target], capsys)
    assert code == 2 and out == "" and err.startswith(f"vmemlab run: {words}") and len(err.splitlines()) == 1


def test_a_quiz_survives_huge_and_undecodable_predictions(tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text('[[step]]\naction = "request"\nsize = "1G"\nask = "How much?"\nexpect = { plugged_size = "1G" }\n'
                   '[[step]]\naction = "request"\nsize = "896M"\nask = "Which?"\nexpect = { first_removed = 39 }\n')
    answers = b"9" * 5000 + b"\n" + b"memory\xff\xfe39\n"
    out = subprocess.run([sys.executable, "-m", "vmemlab", "run", "--quiz", str(lab)], input=answers,
                         capture_output=True, timeout=120)
    assert out.returncode == 0 and b"Traceback" not in out.stderr, out.stderr
    text = out.stdout.decode()
    assert "WRONG: you said 9999" in text and "RIGHT: you said memory" in text and "== score: 1 of 2" in text


@pytest.mark.parametrize("lesson", ["default.toml"] + lesson_files())
def test_every_shipped_quiz_survives_a_huge_prediction(capsys, monkeypatch, lesson):
    path = str(resources.files("vmemlab.examples").joinpath(lesson))
    monkeypatch.setattr("sys.stdin", io.StringIO(("9" * 5000 + " memory" + "9" * 5000 + "\n") * 40))
    code, out, err = run_main(["run", "--quiz", path], capsys)
    assert code == 0 and "== score: 0 of" in out and err == ""


def test_text_from_files_is_printed_with_control_characters_escaped(tmp_path, capsys):
    lab = tmp_path / "lab.toml"
    lab.write_text('title = "Lab \\u001b[2J\\u001b]0;pwned\\u0007 \\u202e"\nintro = "line\\rover"\n'
                   '[[step]]\naction = "request"\nsize = "256M"\nnote = "\\u009b31m red"\n')
    code, out, _ = run_main(["run", str(lab), "--trace", str(tmp_path / "t.json")], capsys)
    assert code == 0 and "\x1b" not in out and "\x9b" not in out and "\r" not in out and "\u202e" not in out
    assert "Lab \\x1b[2J\\x1b]0;pwned\\x07 \\u202e" in out and "line\\x0dover" in out and "\\x9b31m red" in out
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["title"].startswith("Lab \x1b[2J")                 # the trace keeps the title as it is
    code, out, _ = run_main(["replay", str(tmp_path / "t.json")], capsys)
    assert code == 0 and "\x1b" not in out and "(Lab \\x1b[2J" in out


@pytest.mark.parametrize("change, words", [
    (lambda d: d["config"].update(nodes="2"), "config: nodes: expected a whole number, got '2'"),
    (lambda d: d["config"].update(seed="abc"), "config: seed: expected a whole number, got 'abc'"),
    (lambda d: d["config"].update(unplug_online="no"), "config: unplug_online: expected true or false, got 'no'"),
    (lambda d: d.pop("config"), "field 'config' is missing or not an object"),
    (lambda d: d["actions"].__setitem__(0, "request"), "actions[0]: expected an object like"),
])
def test_replay_refuses_a_wrongly_typed_trace_in_one_line(tmp_path, capsys, change, words):
    trace = tmp_path / "t.json"
    assert run_main(["run", "--trace", str(trace)], capsys)[0] == 0
    data = json.loads(trace.read_text())
    change(data)
    trace.write_text(json.dumps(data))
    code, out, err = run_main(["replay", str(trace)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err


def test_buggy_double_unplug_on_a_fully_plugged_device_is_refused(tmp_path, capsys):
    lab = tmp_path / "lab.toml"
    lab.write_text(MACHINE + '[[step]]\naction = "request"\nsize = "4G"\n'
                   '[[step]]\naction = "buggy_request"\nkind = "double_unplug"\nexpect = { error = "every block" }\n')
    code, out, _ = run_main(["run", "--check", str(lab)], capsys)
    assert code == 0 and "PASS error" in out
