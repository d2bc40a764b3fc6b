"""Small HTML builders shared by the text panels (everything user-visible is escaped), and the
one stylesheet they use (Panel renders each pane in its own shadow root, so CSS goes per pane)."""
from __future__ import annotations

import html
from functools import cache
from importlib import resources

import panel as pn


@cache
def stylesheet() -> str:
    """The page's CSS, read from the package (works from a wheel and in Pyodide)."""
    return resources.files("vmemlab.web").joinpath("style.css").read_text(encoding="utf-8")


def html_pane(text: str = "", **kw) -> pn.pane.HTML:
    kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(text, stylesheets=[stylesheet()], **kw)


def table_html(rows: list[tuple[str, str]], title: str = "") -> str:
    """A two-column key/value table."""
    head = f"<caption>{html.escape(title)}</caption>" if title else ""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="vm-kv">{head}{body}</table>'


def pre(text: str) -> str:
    return f'<pre class="vm-pre">{html.escape(text)}</pre>'
