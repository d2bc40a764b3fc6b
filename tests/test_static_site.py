"""The static offline site (``vmemlab build-web``) in Debian's chromium: the same app on Pyodide.

The site is built once per session (downloads cached in $VMEMLAB_SITE_CACHE or
~/.cache/vmemlab-site), served on 127.0.0.1, and every request not to 127.0.0.1 is aborted and
must never be attempted. Cold starts are slow on 2 cores, so there are only two page loads.
Screenshots go to /tmp/vmemlab-web-shots for a human to look at.
"""
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from vmemlab.core.actions import make
from vmemlab.core.sandbox import Change

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")
pytest.importorskip("panel")

from vmemlab.webstatic import browser as site_browser  # noqa: E402
from vmemlab.webstatic import fetch, pack  # noqa: E402
from vmemlab.web.links import encode_session  # noqa: E402
from vmemlab.webstatic.build import build  # noqa: E402
from vmemlab.webstatic.pack import read_pack  # noqa: E402
from web_helpers import LIVE_SOURCE, pick, plot_sample, source_js, wrong_pixels  # noqa: E402

READY_TIMEOUT = 300_000   # ms; a cold start on a busy 2-core machine
ACTION_TIMEOUT = 60_000
# plugged subblocks in the region map image (codes from core.view.Chunk: OFFLINE and above)
MAP_CELLS = source_js("vm-region-image", "let n = 0; for (const v of m.data.image[0]) if (v >= 2) n++; return n;")
SHOTS = Path("/tmp/vmemlab-web-shots")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("static") / "site", log=lambda _m: None).out


@pytest.fixture(scope="session")
def served(site):
    with site_browser.serve(site) as url:
        yield url


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def open_site(b, url: str):
    page = b.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.site", timeout=READY_TIMEOUT)
    return page, errors


def wait_map(page, predicate: str) -> None:
    page.wait_for_function(MAP_CELLS.replace("return n;", f"return n {predicate};"), timeout=ACTION_TIMEOUT)


def tab(page, label: str) -> None:
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{label}$")).click()


def wait_log(page, text: str) -> None:
    """Until the event log shows ``text`` (map and log are separate patches from the worker)."""
    page.wait_for_selector(f".vm-log-pane >> text={text}", timeout=ACTION_TIMEOUT)


def test_site_is_locked_and_lean(site):
    """numpy comes through Pyodide's lock, the rest in the pack; both with their sha256 checked;
    pandas, scipy, pillow are not shipped at all."""
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    manifest = json.loads((site / "site.json").read_text())["files"]
    for entry in lock.values():
        assert manifest[f"pyodide/{entry['file_name']}"]["sha256"] == entry["sha256"]
    assert set(lock) == {"numpy"}
    packed = read_pack(site / "pyodide" / pack.FILE_NAME)
    tops = {n.split("/")[0] for n in packed}
    assert {"panel", "bokeh", "param", "vmemlab", "vmemlab-0.1.0.dist-info", "bokeh-3.9.2.dist-info"} <= tops
    assert not {"pandas", "scipy", "PIL", "contourpy"} & tops
    assert not any(n.startswith("bokeh/server/static/") or n.endswith(".so") for n in packed)
    worker = (site / "app.js").read_text()
    assert fetch.sri(site / "pyodide" / pack.FILE_NAME) in worker
    assert fetch.sri(site / "pyodide" / "python_stdlib.zip") in worker


def test_site_ships_hash_checked_bytecode_for_what_the_page_imports(site):
    """Pyodide under Node compiled the modules the start-up imports, from the packages and from the
    standard library (which Pyodide 0.27 ships as sources); Python 3.12 pycs, PEP 552 hash-based."""
    packed = read_pack(site / "pyodide" / pack.FILE_NAME)
    header = packed["panel/__pycache__/__init__.cpython-312.pyc"][:8]
    assert header[:4] == (3531).to_bytes(2, "little") + b"\r\n"            # CPython 3.12's magic number
    assert int.from_bytes(header[4:8], "little") == 0b01                 # hash-based, not re-checked
    assert {"bokeh/models/__pycache__/plots.cpython-312.pyc", "vmemlab/web/__pycache__/app.cpython-312.pyc",
            "numpy/__pycache__/__init__.cpython-312.pyc"} <= set(packed)
    pycs = [n for n in packed if n.endswith(".pyc")]
    assert not any("/tests/" in n for n in pycs)                         # only what the page imports
    assert all(n.replace("__pycache__/", "").replace(".cpython-312.pyc", ".py") in packed
               for n in pycs if not n.startswith("numpy/"))              # each next to its source
    with zipfile.ZipFile(site / "pyodide" / "python_stdlib.zip") as z:
        stdlib = set(z.namelist())
    assert {"asyncio/base_events.pyc", "asyncio/base_events.py", "_pyodide/_base.pyc", "json/__init__.pyc"} <= stdlib


def test_lesson_plug_fragment_unplug_offline(served):
    with site_browser.chromium() as b:
        page, errors = open_site(b, served + "index.html?scenario=02_whole_block_removal.toml")
        assert page.evaluate("window.vmemlabSite.state") == "ready", page.evaluate("window.vmemlabSite.error")
        page.wait_for_selector(".vm-lesson-title >> text=02 Whole memory blocks go", timeout=ACTION_TIMEOUT)
        pick(page, "default")
        page.wait_for_selector(".vm-lesson-title >> text=A tour of virtio-mem", timeout=ACTION_TIMEOUT)
        assert page.evaluate(MAP_CELLS) == 0
        page.locator(".vm-requested-input input").fill("1G")
        page.locator(".vm-do-request button").click()
        wait_map(page, "== 8 * 64")                                   # 8 memory blocks of 64 subblocks
        wait_log(page, "PLUG device blocks")
        tab(page, "Guest")
        page.locator(".vm-in-alloc-size input").fill("300M")
        page.locator(".vm-do-alloc button").click()
        page.wait_for_selector("text=of anon pages allocated", timeout=ACTION_TIMEOUT)
        page.locator(".vm-do-fragment button").click()
        page.wait_for_selector("text=unmovable kernel pages scattered", timeout=ACTION_TIMEOUT)
        tab(page, "Host")
        page.locator(".vm-requested-input input").fill("256M")
        page.locator(".vm-requested-input input").press("Enter")
        wait_map(page, "== 2 * 64")
        wait_log(page, "UNPLUG")
        shot(page, "static-unplugged")
        tab(page, "Export & share")                                   # downloads work without a server
        with page.expect_download(timeout=ACTION_TIMEOUT) as download:
            page.get_by_text("Download trace (JSON)").click()
        trace = json.loads(Path(download.value.path()).read_text())
        assert trace["format"] == "vmemlab-trace"
        done = [a["action"] for a in trace["actions"] if a["action"] != "settle"]
        assert done == ["request", "alloc", "fragment", "request"]
        tab(page, "Compare")                                          # so do the comparison models
        page.get_by_text("Compare this run").click()
        page.wait_for_selector("text=the whole run", timeout=ACTION_TIMEOUT)
        assert b.blocked == [] and b.failed == [] and errors == []


CAPTURE = """() => { const s = vmemlabSite, w = s.worker; window.__sent = [];
    const post = w.postMessage.bind(w);
    w.postMessage = (m) => { if (m.type === 'patch') __sent.push(m); post(m); };
    window.__input = (cls) => [...s.doc.all_models].find((m) => (m.css_classes || []).includes(cls)); }"""


def test_changes_that_reach_the_worker_together_are_all_applied_in_order(served):
    """A typed value and the click right after it can reach the worker in the same tick (the page
    sends a click even while the worker is busy). Both must be applied, once each, in order:
    handled concurrently they read each other's data (the click ran twice, the value was lost)."""
    with site_browser.chromium() as b:
        page, errors = open_site(b, served + "index.html")
        tab(page, "Guest")
        page.wait_for_selector(".vm-do-alloc button", timeout=ACTION_TIMEOUT)
        page.evaluate(CAPTURE)
        for cls, value in (("vm-in-alloc-size", "21M"), ("vm-in-fragment-percent", "3"),
                           ("vm-in-alloc-size", "99M"), ("vm-in-fragment-percent", "9")):
            page.evaluate(f"() => {{ __input('{cls}').value_input = '{value}'; }}")
            page.wait_for_function("() => !vmemlabSite.worker.busy", timeout=ACTION_TIMEOUT)
        page.evaluate("() => { const w = vmemlabSite.worker; w.busy = true;"       # 21M, then 3%, same tick
                      " w.postMessage(__sent[0]); w.postMessage(__sent[1]); }")
        page.wait_for_function("() => !vmemlabSite.worker.busy", timeout=ACTION_TIMEOUT)
        page.locator(".vm-do-alloc button").click()
        wait_log(page, "of anon pages allocated")
        assert page.get_by_text("21M of anon pages allocated").count() == 1
        assert page.get_by_text("99M of anon pages allocated").count() == 0
        assert errors == []


@pytest.mark.parametrize("name, says", [(pack.FILE_NAME, "did not match their sha256"),
                                         ("python_stdlib.zip", "did not match its sha256")])
def test_a_tampered_file_is_refused_with_a_clear_message(site, tmp_path, name, says):
    """The sha256 of the pack and of the standard library is enforced in the browser: a changed
    file stops the load, visibly, and the message names it."""
    copy = shutil.copytree(site, tmp_path / "site")
    changed = copy / "pyodide" / name
    changed.write_bytes(changed.read_bytes() + b"tampered")
    with site_browser.serve(copy) as url, site_browser.chromium() as b:
        page, _errors = open_site(b, url + "index.html")
        assert page.evaluate("window.vmemlabSite.state") == "error"
        text = page.locator("#vm-loading-text").inner_text()
        assert says in text and name in text
        shot(page, f"static-tampered-{name}")
        assert b.blocked == []


@pytest.mark.parametrize("feature, says", [("WebAssembly", "no WebAssembly"),
                                           ("DecompressionStream", "no DecompressionStream")])
def test_a_browser_without_what_the_site_needs_is_told_so(served, feature, says):
    """Checked before the worker starts: the card names the missing feature instead of hanging."""
    with site_browser.chromium() as b:
        page = b.new_page()
        page.add_init_script(f"delete window.{feature};")
        page.goto(served + "index.html")
        page.wait_for_function("document.body.dataset.site", timeout=ACTION_TIMEOUT)
        assert page.evaluate("window.vmemlabSite.state") == "error"
        assert says in page.locator("#vm-loading-text").inner_text()
        assert page.evaluate("window.vmemlabWorker === undefined")       # nothing was started


def test_the_classroom_page_in_the_static_site(served):
    """The same page without a server: a scenario of another shape draws fully; a long settle
    runs in slices while the page stays responsive (every animation frame comes) and can be
    cancelled; presentation mode and its shortcuts; a session link."""
    with site_browser.chromium(viewport={"width": 1366, "height": 900}) as b:
        page, errors = open_site(b, served + "index.html?scenario=04_own_region_4t.toml&present=1")
        assert page.evaluate("window.vmemlabSite.state") == "ready", page.evaluate("window.vmemlabSite.error")
        page.wait_for_function(f"() => {{ const m = ({LIVE_SOURCE})('vm-region-image');"
                               " return m && m.data.image[0].shape.join() == '512,1024'; }", timeout=ACTION_TIMEOUT)
        got = plot_sample(page, "vm-region-image")
        assert got["x"] == [0, 1032.5] and got["y"] == [2080, 32] and not wrong_pixels(got), got
        page.keyboard.press("f")                                          # presentation mode off
        page.wait_for_selector(".vm-requested-input input", state="visible", timeout=ACTION_TIMEOUT)
        pick(page, "17_dimm_slots_4t.toml")                               # 32768 memory blocks of 128 MiB
        page.wait_for_function(f"() => {{ const m = ({LIVE_SOURCE})('vm-region-image');"
                               " return m && m.data.dh[0] == 32768; }", timeout=ACTION_TIMEOUT)
        got = plot_sample(page, "vm-region-image")
        assert got["x"] == [0, 72.5] and got["y"] == [32800, 32] and not wrong_pixels(got), got
        page.evaluate("""() => { window.__gaps = []; let last = performance.now();
            const tick = (t) => { window.__gaps.push(t - last); last = t; if (window.__gaps.length < 100000)
              requestAnimationFrame(tick); }; requestAnimationFrame(tick); }""")
        page.locator(".vm-requested-input input").fill("4T")
        page.locator(".vm-do-request button").click()
        # the plug stops by itself after ~1,900 requests (the memmap of the 128 MiB blocks needs the
        # small boot memory), about 1.5 s here: cancel as soon as it can be
        page.locator(".vm-cancel button:not([disabled])").click(timeout=ACTION_TIMEOUT)
        page.wait_for_selector(".vm-caption.vm-message >> text=stopped after", timeout=ACTION_TIMEOUT)
        gaps = page.evaluate("window.__gaps")
        assert max(gaps) < 1000, max(gaps)                                # the page never froze
        shot(page, "static-cancelled")
        page.goto(served + "index.html?scenario=default#" + encode_session("default", [
            Change(make("request", size=512 << 20), True), Change(make("alloc", size=64 << 20, kind="anon"))]))
        page.wait_for_function("document.body.dataset.site", timeout=READY_TIMEOUT)
        page.wait_for_selector(".vm-caption.vm-message >> text=opened the link: 2 changes replayed",
                               timeout=ACTION_TIMEOUT)
        wait_map(page, "== 4 * 64")
        page.keyboard.press("u")
        wait_map(page, "== 4 * 64")                                       # undo the alloc: still plugged
        page.keyboard.press("Home")
        wait_map(page, "== 0")
        assert b.blocked == [] and b.failed == [] and errors == []
