"""The page: one SandboxState and the views around it.

``create_app`` is the single entry point: ``vmemlab serve`` calls it once per browser tab
(each tab its own Session), and a Pyodide adapter can call it the same way. Building the page
starts no thread or subprocess and writes no file.
"""
from __future__ import annotations

import html
import io

import panel as pn

from vmemlab.core.scenario import Scenario
from vmemlab.core.session import Session

from .base import View, on_change
from .block_detail import BlockDetail
from .compare_view import CompareView
from .controls import ActionForm, GuestControls, HostControls, TimeControls
from .device_panel import DevicePanel
from .event_log import EventLog
from .export import metrics_csv, trace_json
from .history import HistoryImage
from .keys import Keys
from .links import LinkError, decode_session, parse_present, read_trace
from .share import CopyLink
from .lesson import LessonPanel
from .markup import html_pane
from .metrics import MetricsPlots
from .mirrors_tab import MirrorsTab
from .region_map import RegionMap
from .state import SandboxState, load_scenario, scenario_names
from .schedule import page_scheduler
from .status_bar import StatusBar
from .timeline import TimelineControls
from .url import UrlError, check_step, parse_query, share_query
from .widgets import FlexRow

TITLE = "vmemlab: virtio-mem sandbox"
# The two columns share the width 3:1 and wrap into one column below about 1000 px (a tablet,
# a zoomed browser): no fixed widths, so nothing is pushed under anything else.
LEFT = {"flex": "3 1 620px", "min-width": "0"}
RIGHT = {"flex": "1 1 360px", "min-width": "0"}
PRESENT_RIGHT = {"flex": "1 1 420px", "min-width": "0"}
# Text sizes for every widget (Bokeh's --bokeh-font-size) and pane (--vm-font-size): 14 px on a
# desk, 19-20 px in presentation mode, where the lesson box grows too.
ROOT_STYLE = {"--bokeh-font-size": "14px", "--vm-font-size": "15px", "min-width": "0px"}
# Beside the map (a window at least WIDE px wide) the lesson box takes the window's height; on a
# narrower screen the lesson stands above the map, 150 px high (clamp() makes that choice in CSS).
WIDE = 1080
PRESENT_STYLE = {"--bokeh-font-size": "18px", "--vm-font-size": "20px",
                 "--vm-lesson-height": f"clamp(150px, (100vw - {WIDE}px) * 100, 100vh - 190px)"}
PRESENT_SIDE = f"@media (max-width: {WIDE - 1}px) {{ :host(.vm-present-side) {{ order: -1; }} }}"
# Panel's page template has no viewport tag, so phones and tablets lay the page out 980 px wide
# and shrink it; the static site's template (Panel's converter) has one already. Panel extends
# its base template with this text.
PAGE_TEMPLATE = '{% block postamble %}<meta name="viewport" content="width=device-width, initial-scale=1">{% endblock %}'


class App(pn.viewable.Viewer):
    """Every view of one SandboxState, laid out as a page."""

    def __init__(self, state: SandboxState, **params):
        super().__init__(**params)
        self.state = state
        self.lesson = LessonPanel(state)
        self.timeline = TimelineControls(state)
        self.region_map = RegionMap(state)
        self.block_detail = BlockDetail(state)
        self.history = HistoryImage(state)
        self.metrics = MetricsPlots(state, shown=False)
        self.device_panel = DevicePanel(state, shown=False)
        self.event_log = EventLog(state)
        self.mirrors = MirrorsTab(state, shown=False)
        self.host = HostControls(state)
        self.guest = GuestControls(state)
        self.time = TimeControls(state)
        self.form = ActionForm(state)
        self.compare = CompareView(state)
        self.share = html_pane()
        self.status = StatusBar(state)
        self.keys = Keys()
        self.present = pn.widgets.Toggle(label="Present", width=90, css_classes=["vm-present"],
                                         value=state.present)
        self.present.link(state, value="present", bidirectional=True)
        self.copy_link = CopyLink()
        self.upload = pn.widgets.FileInput(accept=".json", multiple=False, css_classes=["vm-trace-upload"])
        self.upload.param.watch(lambda _e: self._uploaded(), "value")
        self.keys.on_key(self._key)
        on_change(state, self._refresh, "version")
        on_change(state, self._present, "present")
        self._refresh()

    def open_link(self, fragment: str) -> None:
        """A URL fragment: ``#session=...`` opens the session it carries (see links.py)."""
        names = self.state.scenario_names()
        try:
            shared = decode_session(fragment or "", {n: self._steps(n) for n in names})
        except LinkError as e:
            self.state.message = f"{e}; the page stays as it was"
            return
        if shared is not None:
            self.state.open_shared(shared, shared.scenario, self.state.scenario_object(shared.scenario))

    def _steps(self, name: str) -> list:
        return self.state.scenario_object(name).steps

    def _uploaded(self) -> None:
        if self.upload.value is None:
            return
        try:
            shared = read_trace(self.upload.value, self.upload.filename or "trace")
        except LinkError as e:
            self.state.message = f"{e}; the page stays as it was"
            return
        name = f"trace: {shared.title or self.upload.filename or 'uploaded'}"
        scenario = Scenario(shared.title or "an uploaded trace", "", shared.config, [])
        self.state.extra_scenarios[name] = scenario
        self.state.open_shared(shared, name, scenario)

    def _refresh(self) -> None:
        if not self.state.busy:
            self.copy_link.show(self.state)
        query = share_query(self.state.scenario_name, self.state.session.cursor)
        self.share.object = (f'<p>Link to this scenario after {self.state.session.cursor} lesson steps: '
                             f'<a href="{html.escape(query)}"><code>{html.escape(query)}</code></a>. '
                             "It replays lesson steps only; download the trace to keep your own actions.</p>")

    def _key(self, action: str) -> None:
        """A keyboard shortcut (see keys.SHORTCUTS), or '' when the window changed size."""
        s = self.state
        pos, end = s.sandbox.position, s.timeline_length
        if action == "next":
            self.timeline.next_step()
        elif action == "play":
            self.timeline.toggle_play()
        elif action == "undo":
            s.undo()
        elif action == "redo":
            s.redo()
        elif action == "back" and pos > 0:
            s.scrub(pos - 1)
        elif action == "forward" and pos < end:
            s.scrub(pos + 1)
        elif action == "start":
            s.scrub(0)
        elif action == "end":
            s.scrub(end)
        elif action == "present":
            s.present = not s.present
        elif action == "cancel":
            s.cancel()
        elif action == "" and s.present:
            self._present()

    def _present(self) -> None:
        """Presentation mode: the controls and tabs step aside, the lesson moves beside the map
        (on a projector the map and the sentence about it are seen together, the map from the
        top of the screen), text grows to 18-20 px (CSS variables reach into every widget)."""
        if not hasattr(self, "_root"):
            return                                  # not built yet: __panel__ applies it
        on = self.state.present
        for part in [self._tabs, self.copy_link.layout, self.timeline.scenario, self.timeline.speed]:
            part.visible = not on
        self._left.objects = [self.timeline, self.region_map, self._tabs] if on else \
            [self.lesson, self.timeline, self.region_map, self._tabs]
        self._right.objects = [self.lesson] if on else self._right_parts
        self._right.styles = PRESENT_RIGHT if on else RIGHT
        self._right.css_classes = ["vm-right"] + (["vm-present-side"] if on else [])
        self._root.styles = {**ROOT_STYLE, **(PRESENT_STYLE if on else {})}
        self.region_map.present(on, self.keys.screen_height)

    def downloads(self) -> pn.Row:
        trace = pn.widgets.FileDownload(callback=lambda: io.StringIO(trace_json(self.state.session)),
                                        filename="vmemlab-trace.json", label="Download trace (JSON)",
                                        color="primary", width=220)
        metrics = pn.widgets.FileDownload(callback=lambda: io.StringIO(metrics_csv(self.state.session)),
                                          filename="vmemlab-metrics.csv", label="Download metrics (CSV)",
                                          color="primary", width=220)
        return pn.Row(trace, metrics)

    def __panel__(self):
        header = html_pane(f'<div class="vm-header" title="virtio-mem plugs and unplugs guest memory in 2 MiB '
                           "subblocks; Linux adds and removes whole memory blocks (128 MiB on x86-64)\">"
                           f"<h1>{TITLE}</h1></div>", sizing_mode="fixed", width=310, styles={"flex": "0 1 auto"})
        # Dynamic: a tab's widgets are made when it is first shown. Making all four up front costs
        # 0.35 s of the static site's start; showing one later costs one round trip to Python.
        controls = pn.Tabs(("Host", self.host), ("Guest", self.guest), ("Driver & time", self.time),
                           ("Any action", self.form), sizing_mode="stretch_width", dynamic=True)
        bottom = [("History", self.history), ("Metrics", self.metrics), ("Device & guest", self.device_panel),
                  ("Real tools", self.mirrors), ("Compare", self.compare)]
        bottom.append(("Export & share", pn.Column(self.downloads(), self.share,
                                                   html_pane('<p>Open a trace file (from the download above, or '
                                                             '<code>vmemlab run FILE --trace</code>):</p>'), self.upload,
                                                   html_pane('<p class="vm-hint">PNG: use the save tool in the '
                                                             "toolbar of any plot.</p>"))))
        tabs = pn.Tabs(*bottom, sizing_mode="stretch_width", dynamic=True)
        views = [v for _title, v in bottom]
        tabs.param.watch(lambda e: show_only(views, e.new), "active")
        show_only(views, tabs.active)
        left = pn.Column(self.lesson, self.timeline, self.region_map, tabs, sizing_mode="stretch_width",
                         styles=LEFT, css_classes=["vm-left"])
        right = pn.Column(controls, self.block_detail, html_pane("<h3>Event log</h3>"), self.event_log,
                          sizing_mode="stretch_width", styles=RIGHT, css_classes=["vm-right"],
                          stylesheets=[PRESENT_SIDE])
        status = pn.Column(self.status, sizing_mode="stretch_width", css_classes=["vm-status-bar"],
                           styles={"position": "sticky", "top": "0", "z-index": "20", "background": "#ffffff"})
        top = FlexRow(header, self.timeline.scenario, self.copy_link.layout, self.present, self.keys.help_button,
                      self.keys.pane, align_items="center")
        self._left, self._right, self._tabs = left, right, tabs
        self._right_parts = list(right.objects)
        self._root = pn.Column(top, status, FlexRow(left, right, align_items="flex-start"),
                               sizing_mode="stretch_width", styles=dict(ROOT_STYLE))
        self._present()
        return self._root


def show_only(views: list, active: int) -> None:
    """Views in hidden tabs skip their updates; the shown one catches up."""
    for i, v in enumerate(views):
        if isinstance(v, View):
            v.set_shown(i == active)


def create_app(scenario: Scenario | None = None, query: dict | None = None, name: str | None = None) -> App:
    """A fresh page with its own Session.

    ``scenario`` (with its picker ``name``) is a file given to ``vmemlab serve FILE``; ``query``
    holds the URL parameters (``scenario``, ``step``), validated: on a bad one the page opens on
    the default scenario and says which parameter was wrong and what is allowed.
    """
    extra = {name or "scenario file": scenario} if scenario is not None else {}
    names = list(extra) + scenario_names()
    notice = ""
    query = dict(query or {})
    present = False
    if "present" in query:
        try:
            present = parse_present(query.pop("present"))
        except LinkError as e:
            notice = str(e)
    try:
        q = parse_query(query, names)
        chosen = q.scenario or (next(iter(extra)) if extra else names[0])
        sc = extra.get(chosen) or load_scenario(chosen)
        check_step(q.step, len(sc.steps))
    except UrlError as e:
        notice, chosen, sc, q = str(e), names[0], extra.get(names[0]) or load_scenario(names[0]), None
    state = SandboxState(Session(sc), extra_scenarios=extra, scenario_name=chosen, present=present)
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        doc.template = PAGE_TEMPLATE
    app = App(state)                            # first, so that the History sees every step
    if doc is not None:
        app.keys.install(doc)
    for _ in range(q.step if q else 0):         # at once: the page is not drawn yet
        state.play_lesson_step(ask_first=False)          # its questions stay open: see LessonPanel
    state.message = notice
    state.scheduler = page_scheduler()
    app.keys.on_fragment(app.open_link)         # the fragment reaches Python once the page loaded
    return app
