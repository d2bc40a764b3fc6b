"""The site's ``pyodide-lock.json``: only the packages the app loads, each with its sha256.

Pyodide turns each sha256 into a Subresource Integrity check, so the browser refuses any package
file that differs from what the build verified.
"""
from __future__ import annotations

import re
from pathlib import Path

from .fetch import sha256_file
from .wheels import top_level


def wheel_entry(path: Path) -> dict:
    """A lock entry for a pure-Python wheel, installed into site-packages."""
    name, version = path.name.split("-")[:2]
    return {
        "name": re.sub(r"[-_.]+", "-", name).lower(),
        "version": version,
        "file_name": path.name,
        "install_dir": "site",
        "sha256": sha256_file(path),
        "package_type": "package",
        "imports": top_level(path),
        "depends": [],
        "unvendored_tests": False,
        "shared_library": False,
    }


def site_lock(official: dict, official_names: list[str], wheels: list[Path]) -> dict:
    """The official lock's ``info`` and chosen entries, plus one entry per site wheel."""
    packages = {n: official["packages"][n] for n in official_names}
    for w in wheels:
        entry = wheel_entry(w)
        packages[entry["name"]] = entry
    return {"info": official["info"], "packages": dict(sorted(packages.items()))}
