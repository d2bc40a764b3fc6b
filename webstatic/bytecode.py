"""Precompiled bytecode for the site: for the packages (into the pack) and for the standard library.

Pyodide 0.27 ships its standard library (``python_stdlib.zip``) and every wheel as sources only,
so each cold start compiles every module it imports: the runtime's own start and the app's
imports spent about half their time in ``compile``. At build time the very Pyodide the site ships
(run under Node.js) installs the site's packages as the browser does, runs the page's start-up
code and compiles every module imported so far: package modules to ``__pycache__/*.pyc`` in the
pack, standard-library modules to ``name.pyc`` next to ``name.py`` in the site's copy of
``python_stdlib.zip`` (where zipimport looks).
The files are unchecked hash-based pycs (PEP 552): Python does not re-read and hash the source
on import (0.3-0.6 s saved). That is safe here because each pyc ships in the same file as its
source (the pack or the stdlib zip), both written by one build, so the two cannot drift apart.
Modules imported only later (by a rarely used action) are compiled in the browser; compiling
everything would double the download for little gain.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)


class BytecodeError(RuntimeError):
    """Node.js failed to compile the site's packages (its message is attached)."""


def node() -> str | None:
    """The Node.js executable, if there is one (Pyodide 0.27 needs Node 18 or newer)."""
    return shutil.which("node") or shutil.which("nodejs")


def compile_site(pydir: Path, packages: list[str], pack: Path, startup: str,
                 node_exe: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Load ``packages`` (lock names in ``pydir``'s lock) and ``pack``, run ``startup``; the pycs
    of the modules imported: (path in site-packages -> bytes, path in the stdlib zip -> bytes)."""
    here = resources.files("vmemlab.webstatic")
    with tempfile.TemporaryDirectory() as tmp, resources.as_file(here.joinpath("node", "compile_bytecode.js")) as js, \
            resources.as_file(here.joinpath("templates", "pack.js")) as pack_js:
        entry = Path(tmp) / "startup.py"
        entry.write_text(startup)
        out = Path(tmp) / "out"
        out.mkdir()
        done = subprocess.run([node_exe, str(js), str(pack_js), str(pydir), str(pack), str(entry), str(out), *packages],
                              capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise BytecodeError(f"compiling the site's packages with Node.js failed:\n{done.stderr[-2000:]}")
        found = [{p.relative_to(out / part).as_posix(): p.read_bytes() for p in sorted((out / part).rglob("*.pyc"))}
                 for part in ("site", "stdlib")]
    if not all(found):
        raise BytecodeError("Node.js compiled no files")
    return found[0], found[1]


def add_to_zip(path: Path, files: dict[str, bytes]) -> Path:
    """Rewrite zip ``path`` with ``files`` added (sorted entries, fixed timestamps: reproducible)."""
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    entries |= files
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, entries[name])
    return path
