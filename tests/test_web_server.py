"""`vmemlab serve` as a server: it frees closed tabs, bounds the live ones, answers only to its
own names, never shows the served file's path, and refuses bad options in one line.

Each test starts its own `vmemlab serve` on 127.0.0.1 (a free port) and speaks Bokeh's
websocket protocol as a browser tab does (tests/bokeh_client.py).
"""
import asyncio
import json
import socket
import subprocess
import sys
import time

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from bokeh_client import fetch_page, open_session
from web_helpers import served

TIMEOUT = 2          # --session-timeout: a closed tab is freed 2 s later


def wait_for(predicate, deadline: float, step: float = 1.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def no_server_errors(base) -> None:
    out = base.output()
    assert "Traceback" not in out and "Uncaught exception" not in out and "ERROR" not in out, out[-3000:]


def real_app(doc: dict) -> bool:
    return "vm-region-image" in json.dumps(doc)


@pytest.mark.slow
def test_a_hundred_closed_tabs_are_freed_and_rss_returns():
    """Open 100 tabs (the 101st gets the class-full page), close them all: the sandboxes are
    destroyed and RSS comes back to within 10 % of where it was after the first tab."""
    async def scenario(base):
        AsyncHTTPClient.configure(None, max_clients=10)
        ws, doc = await open_session(base)              # the first tab loads Panel's templates, once
        assert real_app(doc)
        ws.close()
        assert await asyncio.to_thread(wait_for, lambda: base.rss_mib() > 0, 1)
        await asyncio.sleep(TIMEOUT + 4)
        start = base.rss_mib()
        gate = asyncio.Semaphore(10)

        async def tab():
            async with gate:
                return await open_session(base)
        tabs = await asyncio.gather(*(tab() for _ in range(100)))
        assert all(real_app(doc) for _, doc in tabs)
        peak = base.rss_mib()
        code, page = await fetch_page(base)
        assert code == 503 and "The class is full" in page and "--max-sessions" in page
        for ws, _ in tabs:
            ws.close()
        freed = await asyncio.to_thread(wait_for, lambda: base.rss_mib() <= 1.10 * start, 60)
        assert freed, f"RSS {base.rss_mib():.0f} MiB after closing, {start:.0f} MiB at the start, peak {peak:.0f}"
        code, _ = await fetch_page(base)
        assert code == 200                               # the places are free again
        print(f"RSS: {start:.0f} MiB after the first tab, {peak:.0f} MiB with 100 open, "
              f"{base.rss_mib():.0f} MiB after closing them")
        return start, peak

    with served("--session-timeout", str(TIMEOUT), "--max-sessions", "100") as base:
        start, peak = asyncio.run(scenario(base))
        assert peak > start + 50                         # the tabs did hold memory while open
        no_server_errors(base)


def test_the_class_full_page_and_a_freed_place():
    async def scenario(base):
        tabs = [await open_session(base) for _ in range(2)]
        code, page = await fetch_page(base + "?scenario=default")
        assert code == 503 and "The class is full" in page and "already runs 2 sandboxes" in page
        tabs[0][0].close()
        await asyncio.sleep(TIMEOUT + 2)
        ws, doc = await open_session(base)
        assert real_app(doc)
        ws.close()
        tabs[1][0].close()

    with served("--session-timeout", str(TIMEOUT), "--max-sessions", "2") as base:
        asyncio.run(scenario(base))
        no_server_errors(base)


async def websocket(base: str, host: str, origin: str):
    code, page = await fetch_page(base)
    token = page.split('"token":')[1].split('"')[1]
    request = HTTPRequest(base.replace("http://", "ws://") + "ws", headers={"Host": host, "Origin": origin})
    return await websocket_connect(request, subprotocols=["bokeh", token])


def test_only_the_servers_own_names_are_answered(tmp_path):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 must get nothing,
    even over a websocket whose Origin equals its Host (Tornado's own check skips those)."""
    lab = tmp_path / "secret-folder" / "lab.toml"
    lab.parent.mkdir()
    lab.write_text('title = "lab"\n[[step]]\naction = "request"\nsize = "1G"\n')

    async def scenario(base):
        port = base.rstrip("/").rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            code, _ = await fetch_page(base, Host=host)
            assert code == 200, host
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
            code, page = await fetch_page(base, Host=host)
            assert code == 403 and "does not answer to this host name" in page, host
        for host, origin in ((f"evil.example:{port}", f"http://evil.example:{port}"),
                             (f"127.0.0.1:{port}", f"http://evil.example:{port}")):
            with pytest.raises(HTTPClientError) as refused:
                await websocket(base, host, origin)
            assert refused.value.code == 403
        ws = await websocket(base, f"127.0.0.1:{port}", f"http://localhost:{port}")
        ws.close()
        ws, doc = await open_session(base)
        text = json.dumps(doc)
        assert str(lab.parent) not in text and "secret-folder" not in text and "lab.toml" in text
        ws.close()

    with served(str(lab)) as base:
        asyncio.run(scenario(base))
        no_server_errors(base)


@pytest.mark.parametrize("query", ["?step=%C2%B2", "?step=" + "9" * 5000, "?step=-1", "?scenario=%FF%FE",
                                   "?scenario=../../etc/passwd", "?a=1&a=2", "?step=1&step=2", "?%00=%00",
                                   "?scenario=04_own_region_4t.toml&step=99", "?" + "x" * 4000])
def test_bad_url_parameters_open_the_default_page_never_http_500(query):
    async def scenario(base):
        ws, doc = await open_session(base, query)
        assert real_app(doc) and "URL parameter" in json.dumps(doc)
        ws.close()

    with served() as base:
        asyncio.run(scenario(base))
        no_server_errors(base)
        assert base.output().count(query[1:20]) <= 1         # a query is logged once at most


@pytest.mark.parametrize("args, words", [
    (["--port", "-1"], "argument --port: '-1' is not allowed; allowed: a TCP port from 1 to 65535"),
    (["--port", "99999"], "argument --port: '99999' is not allowed"),
    (["--port", "http"], "argument --port: 'http' is not a whole number"),
    (["--address", "no.such.host.invalid"], "--address: 'no.such.host.invalid' is not an address of this machine"),
    (["--address", "192.0.2.1"], "cannot listen on 192.0.2.1 port 5006: Cannot assign requested address; it is "
                                 "not an address of this machine"),
    (["--max-sessions", "0"], "argument --max-sessions: '0' is not allowed; allowed: 1 to 100000"),
    (["--session-timeout", "0"], "argument --session-timeout: '0' is not allowed"),
    (["/no/such/lab.toml"], "/no/such/lab.toml: cannot read the file"),
])
def test_bad_serve_options_exit_2_in_one_line(args, words):
    out = subprocess.run([sys.executable, "-m", "vmemlab", "serve", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len([line for line in out.stderr.splitlines() if not line.startswith(("usage:", " "))]) == 1


def test_a_port_in_use_exits_2_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "vmemlab", "serve", "--port", str(port)], capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (f"vmemlab serve: cannot listen on 127.0.0.1 port {port}: Address already in use; "
                                  "pick another with --port, or --port 0 for a free one")
