"""``vmemlab build-web``: write the static offline site (the web app on Pyodide) to a folder."""
from __future__ import annotations

HELP = "Build the static offline site (the web app running in the browser on Pyodide)"

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="folder to write the site to (replaced if it is a site)")
    p.add_argument("--cache", type=Path,
                   help="download cache (default $VMEMLAB_SITE_CACHE or ~/.cache/vmemlab-site)")


def size_table(site, top: int = 8) -> str:
    """Total size and the files that dominate it."""
    rows = sorted(site.files.items(), key=lambda kv: -kv[1])
    lines = [f"{site.total / 1e6:8.1f} MB  total, {len(rows)} files in {site.out}"]
    lines += [f"{b / 1e6:8.1f} MB  {name}" for name, b in rows[:top]]
    rest = sum(b for _, b in rows[top:])
    lines.append(f"{rest / 1e6:8.1f} MB  {len(rows) - top} other files")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from vmemlab.webstatic.build import BuildError, build
    from vmemlab.webstatic.bytecode import BytecodeError
    from vmemlab.webstatic.fetch import FetchError
    from vmemlab.webstatic.runtime import VerifyError

    try:
        site = build(args.out, args.cache, log=lambda m: print(f"build-web: {m}", file=sys.stderr))
    except (BuildError, BytecodeError, FetchError, VerifyError) as e:
        print(f"vmemlab build-web: {e}", file=sys.stderr)
        return 1
    print(size_table(site))
    print(f"serve it with any static file server, e.g.: python3 -m http.server -d {site.out} 8000")
    return 0
