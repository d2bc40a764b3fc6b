"""Assemble the static site: runtime, verified packages, trimmed wheels, lock file, page.

Layout of ``out``::

    index.html               the page (Bokeh and Panel JS inlined), with the loading screen
    app.js                   the web worker: Pyodide, then the app
    pyodide/                 runtime files, numpy and the site's pyodide-lock.json
    pyodide/site-packages.pack.gz   every pure-Python package, with precompiled bytecode
    panelcdn/<panel>/dist/   Panel's stylesheets and themes (PANEL_CDN_ROOT points here)
    site.json                versions and every file's size and sha256
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import bytecode, fetch, lock, pack, pins, runtime, wheels
from .page import CDN_ROOT, STARTUP

# Packages of this project that run in the browser (with their sub-packages; not the TUI or benchmarks).
PROJECT_PACKAGES = ("vmemlab", "vmemlab.core", "vmemlab.web", "vmemlab.examples", "vmemlab.webstatic")
PANEL_ASSETS = ("panel/dist/css/", "panel/dist/bundled/theme/", "panel/dist/bundled/reactiveesm/")
MARKER = "site.json"


class BuildError(RuntimeError):
    """The site cannot be built as asked (the message says why)."""


@dataclass
class Site:
    """A built site: its folder and every file's size in bytes (relative path -> bytes)."""

    out: Path
    files: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.files.values())


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    return Path(spec.submodule_search_locations[0])


def project_files() -> dict[str, bytes]:
    from vmemlab import __version__
    return wheels.project_files("vmemlab", __version__, [(p, _package_dir(p)) for p in PROJECT_PACKAGES],
                                ["numpy", "panel==" + pins.PANEL_VERSION])


def copy_panel_assets(panel_wheel: Path, dest: Path) -> None:
    """Panel's CSS and themes, from the pinned wheel, where PANEL_CDN_ROOT makes Panel look."""
    base = dest / "panelcdn" / pins.PANEL_VERSION
    with zipfile.ZipFile(panel_wheel) as z:
        for name in z.namelist():
            if name.startswith(PANEL_ASSETS) and not name.endswith("/"):
                target = base / name.removeprefix("panel/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(name))


def render_page(stage: Path, params: dict) -> None:
    """Run page.py in a child process with the site-relative PANEL_CDN_ROOT."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(params, f)
    env = dict(os.environ, PANEL_CDN_ROOT=CDN_ROOT)
    try:
        subprocess.run([sys.executable, "-m", "vmemlab.webstatic.page", str(stage), f.name], check=True, env=env)
    finally:
        os.unlink(f.name)


def write_manifest(stage: Path) -> dict[str, int]:
    files = {p.relative_to(stage).as_posix(): p for p in sorted(stage.rglob("*")) if p.is_file()}
    manifest = {
        "pyodide": pins.PYODIDE_VERSION,
        "panel": pins.PANEL_VERSION,
        "files": {rel: {"bytes": p.stat().st_size, "sha256": fetch.sha256_file(p)} for rel, p in files.items()},
    }
    (stage / MARKER).write_text(json.dumps(manifest, indent=1) + "\n")
    return {rel: p.stat().st_size for rel, p in files.items()} | {MARKER: (stage / MARKER).stat().st_size}


def _prepare_out(out: Path) -> Path:
    """A fresh staging folder next to ``out``; refuses to replace a folder that is not a site."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise BuildError(f"{out} exists and is not a vmemlab site (no {MARKER}); choose an empty or new folder")
    stage = out.with_name(out.name + ".building")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


def build(out: Path, cache: Path | None = None, log=print) -> Site:
    """Build the site into ``out`` (replaced only once the new one is complete)."""
    out, cache = out.resolve(), (cache or fetch.default_cache()).resolve()
    stage = _prepare_out(out)
    log(f"fetching pinned files into {cache}")
    tarball = fetch.pyodide_tarball(cache)
    bundle = fetch.bundle_wheel(cache)
    downloaded = fetch.site_wheels(cache)

    log("assembling the runtime and verifying package files")
    pydir = stage / "pyodide"
    runtime.copy_core(tarball, pydir)
    official = runtime.official_lock(tarball)
    names = runtime.lock_closure(official, pins.PYODIDE_PACKAGES)
    pyodide_files = runtime.copy_packages(bundle, official, names, pydir)
    (pydir / "pyodide-lock.json").write_text(json.dumps(lock.site_lock(official, names), indent=1) + "\n")
    sources = project_files()
    for w in pins.WHEELS:
        sources |= wheels.wheel_files(downloaded[w.requirement], w.native)
    site_pack = pack.write_pack(pydir / pack.FILE_NAME, sources)
    stdlib = pydir / "python_stdlib.zip"   # from npm; the build adds bytecode to it
    node = bytecode.node()
    if node:
        log("compiling what the page imports to bytecode (Pyodide under Node.js)")
        pycs, stdlib_pycs = bytecode.compile_site(pydir, names, site_pack, STARTUP, node)
        site_pack = pack.write_pack(site_pack, sources | pycs)
        bytecode.add_to_zip(stdlib, stdlib_pycs)
    else:
        log("no Node.js found: the site ships sources only (browsers compile them on each cold load)")
    copy_panel_assets(downloaded["panel==" + pins.PANEL_VERSION], stage)

    log("rendering the page (runs the app once to pre-render it)")
    package_bytes = {p.name: p.stat().st_size for p in pyodide_files + [site_pack]}
    runtime_bytes = sum((pydir / name).stat().st_size for name in pins.PYODIDE_CORE_FILES)
    render_page(stage, {"packages": names, "package_bytes": package_bytes,
                        "package_mb": sum(package_bytes.values()) / 1e6, "runtime_mb": runtime_bytes / 1e6,
                        "pack": {"url": f"./pyodide/{site_pack.name}", "integrity": fetch.sri(site_pack)},
                        "stdlib": {"url": f"./pyodide/{stdlib.name}", "integrity": fetch.sri(stdlib)},
                        "pyodide_version": pins.PYODIDE_VERSION})
    files = write_manifest(stage)
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    return Site(out, files)
