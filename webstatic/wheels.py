"""The files of the site's pure-Python packages, as they go into the pack (see pack.py).

Each wheel is read and trimmed of what the browser never imports; this project's packages are
taken from the checkout with a dist-info of their own, so ``importlib.metadata`` finds them all.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

# Paths dropped from a wheel: the browser gets Bokeh's and Panel's JS from the page itself, and
# Panel's CSS/themes from the site's panelcdn/ folder; tests and source maps are never imported.
TRIM = re.compile(
    r"^bokeh/server/static/"
    r"|^panel/dist/(?!css/|bundled/theme/)"
    r"|^panel/tests/"
    r"|\.map$|\.pyi$|/py\.typed$")


def wheel_files(source: Path, native: bool) -> dict[str, bytes]:
    """The trimmed files of wheel ``source``; for a native wheel, without its ``.so`` files.

    Only wheels whose extension modules are optional speed-ups (PyYAML, MarkupSafe) are pinned
    as native; each falls back to pure Python when the module is missing.
    """
    with zipfile.ZipFile(source) as z:
        return {n: z.read(n) for n in z.namelist()
                if not n.endswith("/") and not TRIM.search(n) and not (native and n.endswith(".so"))}


SOURCE_SUFFIXES = {".py", ".toml", ".md", ".css", ".html", ".js"}


def project_files(name: str, version: str, sources: Iterable[tuple[str, Path]],
                  requires: Iterable[str]) -> dict[str, bytes]:
    """This project's files from its package folders (``(dotted package, folder)`` pairs, each
    with its sub-folders), plus a dist-info."""
    files: dict[str, bytes] = {}
    for package, folder in sources:
        prefix = package.replace(".", "/")
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix in SOURCE_SUFFIXES and "__pycache__" not in f.parts:
                files[f"{prefix}/{f.relative_to(folder).as_posix()}"] = f.read_bytes()
    info = f"{name}-{version}.dist-info"
    files[f"{info}/METADATA"] = ("Metadata-Version: 2.1\n"
                                 f"Name: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode()
    return files
