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


def test_bench_prints_a_table(capsys):
    assert main(["bench", "--sizes", "1G", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    header, rule, row = out.strip().splitlines()
    assert "peak RSS MB" in header and row.startswith("1G |")
    assert row.split(" | ")[9] == "1G"   # fragmentation left the whole 1 GiB plugged


def test_model_import_loads_no_view_library():
    code = ("import sys, vmemlab.core.sandbox, vmemlab.core.scenario, vmemlab.cli; "
            "print(any(m.split('.')[0] in ('textual', 'panel', 'bokeh') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
