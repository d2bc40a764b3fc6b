"""A browser's side of Bokeh's websocket protocol, for server tests: fetch the page (the server
builds a fresh app), connect with the page's token, pull the document."""
from __future__ import annotations

import json
import re
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

TIMEOUT = 120.0


def send(ws, msgtype: str, content: dict) -> None:
    header = {"msgid": uuid.uuid4().hex, "msgtype": msgtype}
    for part in (header, {}, content):
        ws.write_message(json.dumps(part))


async def receive(ws) -> tuple[dict, dict]:
    """One Bokeh protocol message: header, metadata, content, then its binary buffers."""
    header = json.loads(await ws.read_message())
    await ws.read_message()
    content = json.loads(await ws.read_message())
    for _ in range(header.get("num_buffers", 0) * 2):
        await ws.read_message()
    return header, content


async def fetch_page(url: str, **headers) -> tuple[int, str]:
    response = await AsyncHTTPClient().fetch(url, request_timeout=TIMEOUT, headers=headers, raise_error=False)
    return response.code, response.body.decode("utf-8", "replace")


async def open_session(base: str, query: str = "") -> tuple[WebSocketClientConnection, dict]:
    """Open a tab: the page, its websocket and its document (JSON)."""
    code, page = await fetch_page(base + query)
    assert code == 200, f"{code}: {page[:300]}"
    token = re.search(r'"token":\s*"([^"]+)"', page).group(1)
    ws = await websocket_connect(HTTPRequest(base.replace("http://", "ws://") + "ws",
                                             headers={"Origin": base.rstrip("/")}, connect_timeout=TIMEOUT,
                                             request_timeout=TIMEOUT), subprotocols=["bokeh", token])
    header, _ = await receive(ws)
    assert header["msgtype"] == "ACK"
    send(ws, "PULL-DOC-REQ", {})
    while header["msgtype"] != "PULL-DOC-REPLY":
        header, content = await receive(ws)
    return ws, content["doc"]
