"""The vmemlab command: help, version, discovery of subcommands, bench table."""
import subprocess
import sys

from vmemlab.cli import command_names, main


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("run", "bench", "replay-real"):
        assert name in out and name in command_names()


def test_version():
    out = subprocess.run([sys.executable, "-m", "vmemlab", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("vmemlab ")


def test_bench_prints_a_table_that_shows_the_work_done(capsys):
    assert main(["bench", "--cases", "movable,normal", "--sizes", "1G", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    header, rule, movable, normal = out.strip().splitlines()
    head = header.split(" | ")
    assert "peak RSS MB" in head and "migrated pages" in head and "views s" in head
    cells = [dict(zip(head, row.split(" | "))) for row in (movable, normal)]
    assert [c["case"] for c in cells] == ["movable", "normal"] and cells[0]["region"] == "1G"
    assert cells[0]["plugged"] == cells[0]["unplugged"] == "1G" and cells[0]["left plugged"] == "0"
    assert int(cells[0]["migrated pages"].replace(",", "")) > 4096     # every page of the 16 MiB moved
    assert cells[1]["left plugged"] != "0"          # unmovable pages keep some of ZONE_NORMAL plugged


def test_bench_names_an_unknown_case():
    out = subprocess.run([sys.executable, "-m", "vmemlab", "bench", "--cases", "movable,fast"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--cases: 'fast' is not a case; allowed: movable, normal" in out.stderr


def test_model_import_loads_no_view_library():
    code = ("import sys, vmemlab.core.sandbox, vmemlab.core.scenario, vmemlab.cli; "
            "print(any(m.split('.')[0] in ('textual', 'panel', 'bokeh') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
