"""Wheels as the browser gets them: trimmed, pure-Python, rewritten byte-for-byte reproducibly.

Each output wheel is rebuilt with sorted entries, a fixed timestamp and a fresh RECORD, so the
same pins always give the same sha256 in the site's lock file.
"""
from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)

# Paths dropped from a wheel: the browser gets Bokeh's and Panel's JS from the page itself, and
# Panel's CSS/themes from the site's panelcdn/ folder; tests and source maps are never imported.
TRIM = re.compile(
    r"^bokeh/server/static/"
    r"|^panel/dist/(?!css/|bundled/theme/)"
    r"|^panel/tests/"
    r"|\.map$|\.pyi$|/py\.typed$")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def write_wheel(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (archive name -> bytes) as a wheel with a regenerated RECORD."""
    record = next(n for n in files if n.endswith(".dist-info/RECORD"))
    body = {n: d for n, d in files.items() if n != record}
    body[record] = ("".join(_record_line(n, d) for n, d in sorted(body.items()))
                    + f"{record},,\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(body):
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, body[name])
    return path


def read_wheel(path: Path, keep: Callable[[str], bool] = lambda n: True) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.endswith("/") and keep(n)}


def pure_tag(files: dict[str, bytes]) -> dict[str, bytes]:
    """Mark a wheel whose compiled modules were dropped as pure: purelib, tag ``py3-none-any``."""
    name = next(n for n in files if n.endswith(".dist-info/WHEEL"))
    lines = [ln for ln in files[name].decode().splitlines()
             if not ln.startswith(("Tag:", "Root-Is-Purelib:"))]
    files[name] = ("\n".join(lines + ["Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n").encode()
    return files


def site_name(source: Path) -> str:
    """``name-version-py3-none-any.whl`` for a (possibly platform-specific) wheel file name."""
    name, version = source.name.split("-")[:2]
    return f"{name}-{version}-py3-none-any.whl"


def prepare(source: Path, dest_dir: Path, native: bool) -> Path:
    """The site's copy of ``source``: trimmed; for a native wheel, its ``.so`` files dropped too.

    Only wheels whose extension modules are optional speed-ups (PyYAML, MarkupSafe) are pinned
    as native; each falls back to pure Python when the module is missing.
    """
    files = read_wheel(source, lambda n: not TRIM.search(n) and not (native and n.endswith(".so")))
    if native:
        files = pure_tag(files)
    return write_wheel(dest_dir / site_name(source), files)


SOURCE_SUFFIXES = {".py", ".toml", ".md", ".css", ".html", ".js"}


def project_wheel(dest_dir: Path, name: str, version: str, sources: Iterable[tuple[str, Path]],
                  requires: Iterable[str]) -> Path:
    """A wheel of this project from its package folders (``(dotted package, folder)`` pairs,
    each with its sub-folders).

    Built directly rather than through setuptools so the checkout gets no build/ folder.
    """
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
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: vmemlab.webstatic\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/RECORD"] = b""
    return write_wheel(dest_dir / f"{name}-{version}-py3-none-any.whl", files)


def top_level(path: Path) -> list[str]:
    """Import names a wheel provides (its top-level packages and modules)."""
    with zipfile.ZipFile(path) as z:
        names = {n.split("/")[0] for n in z.namelist()}
    return sorted(n.removesuffix(".py") for n in names
                  if not n.endswith((".dist-info", ".data")) and (n.endswith(".py") or "." not in n))
