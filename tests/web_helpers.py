"""Helpers for the web tests: `vmemlab serve` on 127.0.0.1 and an offline chromium."""
from __future__ import annotations

import os
import re
from pathlib import Path

from vmemlab.web.local_server import served  # noqa: F401  (re-exported for the tests)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
# Screenshots for a person to look at: a git-ignored folder of the checkout, or $VMEMLAB_SHOTS.
SHOTS = Path(os.environ.get("VMEMLAB_SHOTS", Path(__file__).resolve().parent.parent / "artifacts" / "web-shots"))

# The data source named ``name`` that a drawn plot shows. A plot rebuilt for a new scenario leaves
# its old models in BokehJS's document for up to 30 s (it collects them lazily), so a name is not
# unique there; the live one is the one a plot view draws.
LIVE_SOURCE = """(name) => { for (const v of Bokeh.index.all_views()) if (v.model.type == 'Plot')
    for (const r of v.model.renderers) if (r.data_source && r.data_source.name == name) return r.data_source;
  return null; }"""

# The plot drawing the image source named ``name``: its ranges as drawn, the image's shape and
# placement, and the colour of canvas pixels at points of the frame (fractions of its width and
# height) next to the colour the data asks for there. Points on a cell border are skipped (cells
# of a 4 TiB map are about a pixel high), and so is the strip beside the image.
PLOT_SAMPLE = """([name, points]) => {
  const src = (%s)(name);
  if (!src) return null;
  const pv = Bokeh.index.all_views().find(v => v.model.type == 'Plot' &&
                                              v.model.renderers.some(r => r.data_source === src));
  if (!pv) return null;
  const r = pv.model.renderers.find(r => r.data_source === src);
  const img = src.data.image[0];
  const [rows, cols] = img.shape;
  const layer = pv.export();
  const ctx = layer.canvas.getContext('2d');
  const x0 = src.data.x[0], y0 = src.data.y[0], dw = src.data.dw[0], dh = src.data.dh[0];
  const f = pv.frame, box = f.bbox;
  const cell = (sx, sy) => {
    const col = Math.floor((f.x_scale.invert(sx) - x0) / dw * cols);
    const row = Math.floor((f.y_scale.invert(sy) - y0) / dh * rows);
    return (col < 0 || col >= cols || row < 0 || row >= rows) ? null : [row, col];
  };
  const samples = [];
  for (const [fx, fy] of points) {
    const sx = box.left + 6 + fx * (box.width - 12), sy = box.top + 6 + fy * (box.height - 12);
    const here = cell(sx, sy);
    if (!here) continue;
    const code = img[here[0] * cols + here[1]];
    const around = [[-3, 0], [3, 0], [0, -3], [0, 3]].map(([dx, dy]) => cell(sx + dx, sy + dy));
    if (around.some(c => !c || img[c[0] * cols + c[1]] != code)) continue;
    // the most common colour of the 7x7 pixels around the point: hatching, glyphs and outlines
    // drawn over the map cover less of a cell than its own colour does
    const k = Math.round(3 * layer.pixel_ratio);
    const px = ctx.getImageData(Math.round(sx * layer.pixel_ratio) - k, Math.round(sy * layer.pixel_ratio) - k,
                                2 * k + 1, 2 * k + 1).data;
    const count = new Map();
    for (let i = 0; i < px.length; i += 4) {
      const c = `${px[i]},${px[i + 1]},${px[i + 2]}`;
      count.set(c, (count.get(c) || 0) + 1);
    }
    const got = [...count.entries()].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number);
    samples.push({row: here[0], col: here[1], code, want: r.glyph.color_mapper.palette[code], got});
  }
  return {shape: [rows, cols], x0, y0, dw, dh,
          x: [f.x_range.start, f.x_range.end], y: [f.y_range.start, f.y_range.end],
          frame: [box.width, box.height], samples};
}""" % LIVE_SOURCE
GRID = [(i / 6, j / 6) for i in range(7) for j in range(7)]


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def plot_sample(page, name: str, points=GRID) -> dict | None:
    page.mouse.move(0, 0)                     # no hover highlight over the plot
    return page.evaluate(PLOT_SAMPLE, [name, [list(p) for p in points]])


def wrong_pixels(sample: dict, tolerance: int = 24) -> list[dict]:
    """Samples whose canvas colour is not (about) the colour their data code maps to; a sample
    with no point inside the image counts as wrong (nothing of the map was drawn there)."""
    if not sample["samples"]:
        return [{"problem": "no sample point fell inside the image"}]
    return [s for s in sample["samples"]
            if max(abs(a - b) for a, b in zip(hex_rgb(s["want"]), s["got"])) > tolerance]


def source_js(name: str, body: str) -> str:
    """A JS function evaluating ``body`` with ``m`` = the live source named ``name``."""
    return f"() => {{ const m = ({LIVE_SOURCE})({name!r}); if (!m) return null; {body} }}"


class OfflinePage:
    """A chromium page that aborts every request not to 127.0.0.1 and records console errors."""

    def __init__(self, browser, width: int = 1500, height: int = 1100, **context):
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": height}, **context)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def open_page(page, url: str) -> None:
    """Load the served page and wait until its document is drawn."""
    page.goto(url)
    page.wait_for_selector(".vm-caption", timeout=60000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")


def tab(page, title: str) -> None:
    page.locator(".bk-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()


def drag_slider(page, css: str, fraction: float) -> None:
    """Drag the handle of the slider with class ``css`` to ``fraction`` of its track (0 = left end,
    pulled past the end as a hurried hand does)."""
    handle = page.locator(f"{css} .noUi-handle").first.bounding_box()
    track = page.locator(f"{css} .noUi-base").first.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    x = track["x"] + track["width"] * fraction
    x = track["x"] - 30 if fraction <= 0 else x
    page.mouse.move(x, track["y"] + track["height"] / 2, steps=8)
    page.mouse.up()


def shot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under SHOTS (git-ignored), for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# Every clickable control of the page (through Panel's shadow roots): is each one the element
# found at its own centre once scrolled into view? Also: sideways scroll, cut-off tab headers.
LAYOUT_CHECK = """() => {
  const CONTROLS = 'button, select, input:not([type=hidden]), textarea, .noUi-handle, .bk-tab, summary, a[href]';
  const all = (root, out) => {
    root.querySelectorAll(CONTROLS).forEach(e => out.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) all(e.shadowRoot, out); });
    return out;
  };
  const hit = (x, y) => {
    let el = document.elementFromPoint(x, y);
    while (el && el.shadowRoot) { const inner = el.shadowRoot.elementFromPoint(x, y); if (!inner || inner === el) break; el = inner; }
    return el;
  };
  const within = (outer, el) => { for (let e = el; e; e = e.parentNode || e.host) if (e === outer) return true; return false; };
  const name = (e) => (e.className && e.className.baseVal === undefined ? e.className : '') + ' ' +
                      (e.textContent || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 30);
  const problems = [];
  const controls = all(document, []).filter(e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
      return r.width > 0 && r.height > 0 && s.visibility != 'hidden'; });
  for (const e of controls) {
    e.scrollIntoView({block: 'center', inline: 'center'});
    const r = e.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || x > innerWidth || y < 0 || y > innerHeight) { problems.push(['off screen', name(e)]); continue; }
    const h = hit(x, y);
    if (!h || !(within(e, h) || within(h, e))) problems.push(['covered', name(e), h ? name(h) : 'nothing']);
  }
  window.scrollTo(0, 0);
  const se = document.scrollingElement;
  if (se.scrollWidth > se.clientWidth + 1) problems.push(['sideways scroll', se.scrollWidth, se.clientWidth]);
  for (const t of all(document, []).filter(e => e.classList && e.classList.contains('bk-tab'))) {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && (r.right > innerWidth + 1 || r.left < -1)) problems.push(['tab cut', name(t)]);
  }
  return {controls: controls.length, problems};
}"""


def rect_of(page, css: str) -> dict | None:
    box = page.locator(css).first.bounding_box()
    return box


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and
            a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def pick(page, name: str) -> None:
    """Choose a shipped scenario in the picker (it shows lesson titles, not file names)."""
    from vmemlab.web.state import load_scenario
    page.locator(".vm-scenario select").select_option(label=load_scenario(name).title)
