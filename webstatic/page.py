"""Render ``index.html`` and ``app.js`` with Panel's converter, in a child process.

Panel reads ``PANEL_CDN_ROOT`` once at import, and converting runs the app, so this module is
run as ``python -m vmemlab.webstatic.page OUT PARAMS.json`` with a relative CDN root: every
stylesheet URL in the page then points into the site's own ``panelcdn/`` folder.
"""
from __future__ import annotations

import io
import json
import random
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

CDN_ROOT = "./panelcdn/"
ENTRY = "from vmemlab.webstatic.adapter import servable\nservable()\n"
# Runs in the worker before Panel is imported.
PRELUDE = f"""
import os
os.environ["PANEL_CDN_ROOT"] = "{CDN_ROOT}"
import pyodide.ffi as _ffi
if not hasattr(_ffi, "jsnull"):  # Panel 1.9 uses pyodide.ffi.jsnull, added in Pyodide 0.28
    _ffi.jsnull = object()
"""
# What the worker runs to start the app: the prelude, then the code Panel's converter wraps ENTRY in.
STARTUP = (PRELUDE + "from panel.io.pyodide import init_doc, write_doc\ninit_doc()\n"
           + ENTRY + "await write_doc()\n")


def template(name: str) -> str:
    return resources.files("vmemlab.webstatic").joinpath("templates", name).read_text(encoding="utf-8")


def raw_template(name: str) -> str:
    """A template file taken literally by jinja (JavaScript that may contain ``{{`` itself)."""
    return "{% raw %}" + template(name) + "{% endraw %}"


def js_literal(code: str) -> str:
    """``code`` escaped for a JS template literal, as Panel escapes the app source."""
    return code.encode("unicode_escape").decode("utf-8").replace("`", r"\`")


class _Fixed:
    """Stands in for one of Panel's jinja templates: renders ours, with extra variables."""

    def __init__(self, text: str, **extra):
        from jinja2 import Template
        self.template, self.extra = Template(text), extra

    def render(self, context: dict) -> str:
        return self.template.render({**context, **self.extra})


@contextmanager
def seeded_ids() -> Iterator[None]:
    """Bokeh names the page's root elements and document with ``uuid4``; seeded here, two builds
    of the same checkout write the same page, byte for byte (the ids only need to be unique)."""
    rng, real = random.Random(0), uuid.uuid4
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    try:
        yield
    finally:
        uuid.uuid4 = real


def render(out: Path, params: dict) -> None:
    from panel.config import config
    from panel.io import convert
    from panel.io.loading import LOADING_INDICATOR_CSS_CLASS
    from panel.io.resources import set_resource_mode

    assert config.cdn_root == CDN_ROOT, "run with PANEL_CDN_ROOT set (see module docstring)"
    convert.WORKER_HANDLER_TEMPLATE = _Fixed(raw_template("handler.js"))
    convert.WEB_WORKER_TEMPLATE = _Fixed(
        raw_template("pack.js") + "\n" + template("worker.js"),
        packages=json.dumps(params["packages"]), package_bytes=json.dumps(params["package_bytes"]),
        pack=json.dumps(params["pack"]), stdlib=json.dumps(params["stdlib"]), prelude=js_literal(PRELUDE),
        pyodide_version=params["pyodide_version"])
    with set_resource_mode("inline"), seeded_ids():
        html, worker = convert.script_to_html(io.StringIO(ENTRY), requirements=[], js_resources=[],
                                              runtime="pyodide-worker", prerender=True, inline=True)
    loading = _Fixed(template("loading.html")).render({"package_mb": f"{params['package_mb']:.0f}",
                                                       "runtime_mb": f"{params['runtime_mb']:.0f}"})
    # The page's own <body> tag is the last one (the inlined Bokeh JS contains the string too).
    body = f'<body class="{LOADING_INDICATOR_CSS_CLASS} pn-{config.loading_spinner}">'
    before, found, after = html.rpartition(body)
    assert found, "Panel's page template changed: no body tag to put the loading screen in"
    html = before + "<body>\n" + loading + after
    head = html.index("<head>") + len("<head>")
    assert head < 200, "Panel's page template changed: <head> is not at the top"
    html = html[:head] + "\n" + template("start.html") + html[head:]
    (out / "index.html").write_text(html, encoding="utf-8")
    (out / "app.js").write_text(worker, encoding="utf-8")


if __name__ == "__main__":
    render(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()))
