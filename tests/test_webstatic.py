"""The static site build: the pack format the worker installs (webstatic/pack.py, templates/pack.js)
and a reproducible page (webstatic/page.py)."""
import base64
import gzip
import json
import shutil
import subprocess
import uuid
from importlib import resources

import pytest

from vmemlab.webstatic import fetch, pack
from vmemlab.webstatic.page import seeded_ids

FILES = {"b/__init__.py": b"B = 1\n", "a/data.bin": bytes(range(256)) * 3, "a/__init__.py": b"", "c.py": b"x" * 70000}


def test_round_trip_and_byte_for_byte_reproducible(tmp_path):
    one = pack.write_pack(tmp_path / "one.gz", FILES)
    two = pack.write_pack(tmp_path / "two.gz", dict(reversed(list(FILES.items()))))
    assert pack.read_pack(one) == FILES
    assert one.read_bytes() == two.read_bytes()                     # sorted, no gzip timestamp
    assert fetch.sri(one).startswith("sha256-") and fetch.sri(one) == fetch.sri(two)


def test_refuses_a_file_that_is_not_a_pack(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"PK\x03\x04 a zip, say"))
    with pytest.raises(ValueError, match="not a vmemlab pack"):
        pack.read_pack(bad)


@pytest.mark.skipif(not shutil.which("node"), reason="needs Node.js")
def test_the_javascript_reader_finds_the_same_files(tmp_path):
    """templates/pack.js (used by the browser worker) against pack.py, through a fake file system."""
    packed = pack.write_pack(tmp_path / "p.gz", FILES)
    reader = resources.files("vmemlab.webstatic").joinpath("templates", "pack.js")
    js = f"""
    const {{installPack}} = require({json.dumps(str(reader))});
    const zlib = require('zlib'), fs = require('fs');
    const files = {{}}, dirs = [];
    const fake = {{FS: {{mkdirTree: (d) => dirs.push(d),
                         writeFile: (p, b) => {{ files[p] = Buffer.from(b).toString('base64'); }}}}}};
    const n = installPack(fake, new Uint8Array(zlib.gunzipSync(fs.readFileSync({json.dumps(str(packed))}))), '/site');
    console.log(JSON.stringify({{n, files, dirs}}));
    """
    out = json.loads(subprocess.run(["node", "-e", js], capture_output=True, text=True, check=True).stdout)
    assert out["n"] == len(FILES)
    assert {k: base64.b64decode(v) for k, v in out["files"].items()} == {f"/site/{k}": v for k, v in FILES.items()}
    assert sorted(out["dirs"]) == ["/site", "/site/a", "/site/b"]


def test_page_ids_are_seeded_only_while_rendering():
    """Two builds write the same index.html: Bokeh's uuid4 element ids come from a fixed seed."""
    with seeded_ids():
        one = [uuid.uuid4() for _ in range(3)]
    with seeded_ids():
        two = [uuid.uuid4() for _ in range(3)]
    assert one == two and len(set(one)) == 3 and all(u.version == 4 for u in one)
    assert uuid.uuid4() not in one                                  # the real one is back
