"""The site's ``pyodide-lock.json``: only the official packages the worker loads through Pyodide.

Pyodide turns each sha256 into a Subresource Integrity check, so the browser refuses any package
file that differs from what the build verified. The pure-Python packages are not in it: they
come in the pack (pack.py), which the worker fetches with its own integrity check.
"""
from __future__ import annotations


def site_lock(official: dict, official_names: list[str]) -> dict:
    """The official lock's ``info`` and the chosen entries."""
    return {"info": official["info"], "packages": {n: official["packages"][n] for n in sorted(official_names)}}
