"""Load: 60 concurrent sessions on one `vmemlab serve` (127.0.0.1), each its own sandbox.

Each session speaks Bokeh's websocket protocol as the browser does: fetch the page (the server
builds a fresh app), connect with the page's token, pull the document, move the requested-size
slider to a size of its own, and wait for the server's patch of its region map. Bounded: 60
sessions, 20 at a time, a deadline per session.
"""
import asyncio
import json
import re

import pytest
from tornado.httpclient import AsyncHTTPClient

from bokeh_client import open_session, receive, send
from web_helpers import served

pytestmark = pytest.mark.slow
SESSIONS = 60
AT_ONCE = 20
DEADLINE = 120.0              # per session, seconds (page builds queue on one server thread)


def find_model(node, kind: str, css_class: str):
    """The id of the first model of type ``kind`` carrying ``css_class`` in a document JSON."""
    if isinstance(node, dict):
        if node.get("name") == kind and css_class in (node.get("attributes", {}).get("css_classes") or []):
            return node["id"]
        values = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return None
    for v in values:
        found = find_model(v, kind, css_class)
        if found:
            return found
    return None


def image_patched(content: dict, image_id: str) -> bool:
    return any(e.get("kind") == "ColumnsPatched" and e.get("model", {}).get("id") == image_id
               for e in content.get("events", []))


async def one_session(base: str, size_mib: int) -> int:
    ws, doc = await open_session(base)
    try:
        slider = find_model(doc, "Slider", "vm-requested-slider")
        image = re.search(r'"name":\s*"vm-region-image"', json.dumps(doc)) and \
            next(m["id"] for m in iter_models(doc) if m.get("attributes", {}).get("name") == "vm-region-image")
        send(ws, "PATCH-DOC", {"events": [{"kind": "ModelChanged", "model": {"id": slider},
                                           "attr": "value_throttled", "new": size_mib}]})
        while True:
            header, content = await receive(ws)
            if header["msgtype"] == "PATCH-DOC" and image_patched(content, image):
                return size_mib
    finally:
        ws.close()


def iter_models(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            yield node
        for v in node.values():
            yield from iter_models(v)
    elif isinstance(node, list):
        for v in node:
            yield from iter_models(v)


async def all_sessions(base: str) -> list[int]:
    AsyncHTTPClient.configure(None, max_clients=AT_ONCE)
    gate = asyncio.Semaphore(AT_ONCE)

    async def bounded(k: int) -> int:
        async with gate:
            return await asyncio.wait_for(one_session(base, 128 * (1 + k % 8)), DEADLINE)
    return await asyncio.gather(*(bounded(k) for k in range(SESSIONS)))


def test_sixty_concurrent_sessions_each_get_their_own_sandbox():
    with served("--max-sessions", str(2 * SESSIONS)) as base:    # closed tabs linger --session-timeout
        done = asyncio.run(all_sessions(base))
    assert len(done) == SESSIONS
    assert sorted(set(done)) == [128 * k for k in range(1, 9)]
