"""Precompiled bytecode for the site: one extra wheel of ``__pycache__/*.pyc`` files.

Compiling Python sources is about a quarter of the import time in the browser. At build time the
very Pyodide the site ships (run under Node.js) loads the site's packages and compiles them; the
``.pyc`` files go into ``vmemlab_bytecode-…whl``, which the site loads with the other packages.
The files are hash-checked pycs (PEP 552): Python uses one only if the hash of the source next to
it matches, so a stale or mismatched pyc is ignored and the source is compiled as before.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from .wheels import write_wheel

NAME = "vmemlab-bytecode"


class BytecodeError(RuntimeError):
    """Node.js failed to compile the site's packages (its message is attached)."""


def node() -> str | None:
    """The Node.js executable, if there is one (Pyodide 0.27 needs Node 18 or newer)."""
    return shutil.which("node") or shutil.which("nodejs")


def compile_packages(pydir: Path, packages: list[str], startup: str, version: str, node_exe: str) -> Path:
    """Load ``packages`` (lock names in ``pydir``'s lock), run ``startup`` (the page's start-up
    code), compile every module it imported and wrap the pycs in a wheel in ``pydir``.

    Modules imported only later (by a rarely used action) are compiled in the browser as before;
    compiling all of site-packages would triple the wheel for little gain.
    """
    script = resources.files("vmemlab.webstatic").joinpath("node", "compile_bytecode.js")
    with tempfile.TemporaryDirectory() as tmp, resources.as_file(script) as js:
        entry = Path(tmp) / "startup.py"
        entry.write_text(startup)
        out = Path(tmp) / "out"
        out.mkdir()
        done = subprocess.run([node_exe, str(js), str(pydir), str(out), str(entry), *packages],
                              capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise BytecodeError(f"compiling the site's packages with Node.js failed:\n{done.stderr[-2000:]}")
        files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.pyc"))}
    if not files:
        raise BytecodeError("Node.js compiled no files")
    info = f"{NAME.replace('-', '_')}-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: vmemlab.webstatic\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/RECORD"] = b""
    return write_wheel(pydir / f"{NAME.replace('-', '_')}-{version}-py3-none-any.whl", files)
