"""The site's Python packages as one gzip'd file the worker writes straight into Pyodide's files.

Installing 20 wheels through Pyodide's ``loadPackage`` unzips ~2,000 files with Python's
``zipfile`` inside WebAssembly (1.3-1.8 s on 2 cores). The pack is fetched while the runtime
starts, inflated by the browser's native ``DecompressionStream`` and written with one
``FS.writeFile`` per file (~0.1 s). The worker fetches it with a Subresource Integrity check,
so a changed pack is refused like a changed package file.

Format (inside the gzip): ``MAGIC``, the index length as 4 bytes little-endian, the index (JSON
``[[path, size], ...]``, paths relative to site-packages, sorted), then the files' bytes in index
order. ``templates/pack.js`` reads it; gzip without a timestamp keeps the build reproducible.
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

MAGIC = b"VMEMLAB-PACK-1\n"
FILE_NAME = "site-packages.pack.gz"


def write_pack(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (path in site-packages -> bytes) as a pack."""
    names = sorted(files)
    index = json.dumps([[n, len(files[n])] for n in names], separators=(",", ":")).encode()
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as z:
        z.write(MAGIC + len(index).to_bytes(4, "little") + index)
        for n in names:
            z.write(files[n])
    path.write_bytes(raw.getvalue())
    return path


def read_pack(path: Path) -> dict[str, bytes]:
    """The files of a pack (what the worker writes into site-packages)."""
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a vmemlab pack")
    at = len(MAGIC) + 4
    size = int.from_bytes(data[len(MAGIC):at], "little")
    files = {}
    at += size
    for name, n in json.loads(data[at - size:at]):
        files[name] = data[at:at + n]
        at += n
    return files
