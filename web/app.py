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
        on_change(state, self._refresh, "version")
        self._refresh()

    def _refresh(self) -> None:
        query = share_query(self.state.scenario_name, self.state.session.cursor)
        self.share.object = (f'<p>Link to this scenario after {self.state.session.cursor} lesson steps: '
                             f'<a href="{html.escape(query)}"><code>{html.escape(query)}</code></a>. '
                             "It replays lesson steps only; download the trace to keep your own actions.</p>")

    def downloads(self) -> pn.Row:
        trace = pn.widgets.FileDownload(callback=lambda: io.StringIO(trace_json(self.state.session)),
                                        filename="vmemlab-trace.json", label="Download trace (JSON)",
                                        color="primary", width=220)
        metrics = pn.widgets.FileDownload(callback=lambda: io.StringIO(metrics_csv(self.state.session)),
                                          filename="vmemlab-metrics.csv", label="Download metrics (CSV)",
                                          color="primary", width=220)
        return pn.Row(trace, metrics)

    def __panel__(self):
        header = html_pane(f'<div class="vm-header"><h1>{TITLE}</h1><span>virtio-mem plugs and unplugs guest '
                           "memory in 2 MiB subblocks; Linux adds and removes whole 128 MiB memory blocks."
                           "</span></div>")
        # Dynamic: a tab's widgets are made when it is first shown. Making all four up front costs
        # 0.35 s of the static site's start; showing one later costs one round trip to Python.
        controls = pn.Tabs(("Host", self.host), ("Guest", self.guest), ("Driver & time", self.time),
                           ("Any action", self.form), sizing_mode="stretch_width", dynamic=True)
        bottom = [("History", self.history), ("Metrics", self.metrics), ("Device & guest", self.device_panel),
                  ("Real tools", self.mirrors), ("Compare", self.compare)]
        bottom.append(("Export & share", pn.Column(self.downloads(), self.share,
                                                   html_pane('<p class="vm-hint">PNG: use the save tool in the '
                                                             "toolbar of any plot.</p>"))))
        tabs = pn.Tabs(*bottom, sizing_mode="stretch_width", dynamic=True)
        views = [v for _title, v in bottom]
        tabs.param.watch(lambda e: show_only(views, e.new), "active")
        show_only(views, tabs.active)
        left = pn.Column(self.lesson, self.timeline, self.region_map, tabs, sizing_mode="stretch_width",
                         styles=LEFT, css_classes=["vm-left"])
        right = pn.Column(controls, self.block_detail, html_pane("<h3>Event log</h3>"), self.event_log,
                          sizing_mode="stretch_width", styles=RIGHT, css_classes=["vm-right"])
        status = pn.Column(self.status, sizing_mode="stretch_width", css_classes=["vm-status-bar"],
                           styles={"position": "sticky", "top": "0", "z-index": "20", "background": "#ffffff"})
        return pn.Column(header, status, FlexRow(left, right, align_items="flex-start"),
                         sizing_mode="stretch_width")


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
    try:
        q = parse_query(query or {}, names)
        chosen = q.scenario or (next(iter(extra)) if extra else names[0])
        sc = extra.get(chosen) or load_scenario(chosen)
        check_step(q.step, len(sc.steps))
    except UrlError as e:
        notice, chosen, sc, q = str(e), names[0], extra.get(names[0]) or load_scenario(names[0]), None
    state = SandboxState(Session(sc), extra_scenarios=extra, scenario_name=chosen)
    for _ in range(q.step if q else 0):
        state.play_lesson_step()
    state.message = notice
    state.scheduler = page_scheduler()
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        doc.template = PAGE_TEMPLATE
    return App(state)
