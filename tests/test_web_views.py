"""The web views: actions through the state change the Bokeh ColumnDataSources, by patches."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import param
import pytest
from bokeh.models import ColumnDataSource

from vmemlab.core import view
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario, default
from vmemlab.core.session import Session
from vmemlab.core.units import GiB, MiB, TiB
from vmemlab.web.block_detail import BlockDetail
from vmemlab.web.controls import ActionForm, GuestControls, HostControls
from vmemlab.web.event_log import EventLog
from vmemlab.web.history import HistoryImage
from vmemlab.web.metrics import MetricsPlots
from vmemlab.web.mirrors_tab import MirrorsTab
from vmemlab.web.region_map import RegionMap
from vmemlab.web.state import SandboxState
from vmemlab.web.timeline import TimelineControls


def free_play() -> SandboxState:
    """The default machine without lesson steps."""
    return SandboxState(Session(replace(default(), steps=[])))


@pytest.fixture
def patched_rows(monkeypatch):
    """source name -> the row slices of every image patch sent to it."""
    calls: dict[str, list] = {}
    original = ColumnDataSource.patch

    def patch(self, patches, setter=None):
        for index, _values in patches.get("image", []):
            calls.setdefault(self.name, []).append(index[1])
        return original(self, patches, setter)
    monkeypatch.setattr(ColumnDataSource, "patch", patch)
    return calls


def test_region_map_shows_plugged_blocks_and_patches_only_changed_rows(patched_rows):
    s = free_play()
    rm = RegionMap(s)
    assert rm.image.data["image"][0].shape == (32, 64)
    assert not rm.image.data["image"][0].any()                       # nothing added yet
    s.act("request", size="256M")
    img = rm.image.data["image"][0]
    assert (img[:2] == view.Chunk.FREE).all() and (img[2:] == view.Chunk.ABSENT).all()
    assert patched_rows["vm-region-image"] == [slice(0, 2)]          # one patch, rows 0-1 only
    assert rm.rows.data["name"][0] == "memory32"
    assert "online movable" in rm.rows.data["state"][0] and "64 of 64 subblocks" in rm.rows.data["plugged"][0]


def test_region_map_tap_selects_the_block_and_the_detail_follows():
    s = free_play()
    rm, detail = RegionMap(s), BlockDetail(s)
    s.act("request", size="256M")
    s.act("alloc", size="100M", kind="anon")
    rm._on_tap(SimpleNamespace(y=33.7))
    assert s.selected_block == 33
    assert list(rm.selection.data["bottom"]) == [33]
    assert len(detail.source.data["x"]) == 64 and detail.figure.visible
    assert "memory33" in detail.facts.object
    rm._on_tap(SimpleNamespace(y=10.2))                              # boot memory: not in this map
    assert s.selected_block == 33


def test_region_map_folds_a_4tib_region_into_512_rows(patched_rows):
    cfg = MachineConfig(boot_memory=128 * GiB, devices=(DeviceConfig(region_size=4 * TiB),))
    s = SandboxState(Session(Scenario("4T", "", cfg, [])))
    rm = RegionMap(s)
    assert rm.image.data["image"][0].shape == (512, 64)
    assert rm.image.data["dh"] == [32768]
    assert "64 blocks in this row" in rm.rows.data["name"][0]
    s.act("request", size="8G")                                      # 64 blocks = the first display row
    assert patched_rows["vm-region-image"] == [slice(0, 1)]
    assert (rm.image.data["image"][0][0] == view.Chunk.FREE).all()


def test_history_keeps_columns_across_undo_and_drops_a_replaced_future():
    s = free_play()
    h = HistoryImage(s)
    s.act("request", size="256M")                                    # request and its settle: one position
    pic = h.image.data["image"][0]
    assert pic.shape == (32, 64)
    assert (pic[:2, 1] == view.Cell.MOVABLE).all() and (pic[:, 0] == view.Cell.UNUSED).all()
    s.undo()
    assert (h.image.data["image"][0][:2, 1] == view.Cell.MOVABLE).all()   # the redo future stays visible
    assert h.cursor.location == 0
    s.act("request", size="128M")
    pic = h.image.data["image"][0]
    assert pic[1, 1] == view.Cell.UNUSED and pic[0, 1] == view.Cell.MOVABLE
    h._on_tap(SimpleNamespace(x=0.2))
    assert s.sandbox.position == 0


def test_metrics_stream_new_steps_and_replace_on_undo():
    s = free_play()
    mp = MetricsPlots(s)
    assert len(mp.source.data["step"]) == 1
    s.act("request", size="1G")
    assert mp.source.data["plugged"][-1] == 1.0 and len(mp.source.data["step"]) == 2
    assert "blocks_MOVABLE" in mp.source.data and mp.source.data["blocks_MOVABLE"][-1] == 8
    s.undo()
    assert len(mp.source.data["step"]) == 1
    assert mp.source.data["memmap"][-1] == 0


def test_host_controls_slider_and_typed_size():
    s = free_play()
    hc = HostControls(s)
    assert hc.slider.end == 4 * 1024 and hc.slider.step == 2
    with param.edit_constant(hc.slider):
        hc.slider.value_throttled = 384                               # what the browser sends on release
    assert s.machine.devices[0].requested_size == 384 * MiB and hc.slider.value == 384
    hc.size.value = "301M"
    hc._typed()
    assert "not a multiple of block-size 2M" in s.message and s.machine.devices[0].requested_size == 384 * MiB
    assert hc.size.value == "301M"                                    # kept for correction
    hc.size.value = "1G"
    hc._typed()
    assert s.machine.devices[0].plugged_size == 1 * GiB and hc.size.value == ""
    hc.grow.clicks += 1
    assert s.machine.devices[0].requested_size == 1 * GiB + 128 * MiB


def test_guest_controls_alloc_fragment_and_bad_percent():
    s = free_play()
    gc = GuestControls(s)
    s.act("request", size="512M")
    gc.alloc_size.value = "200M"
    gc.alloc_button.clicks += 1
    assert s.machine.mem.movable(slice(None)).sum() > 0
    gc.percent.value = "80"
    gc.fragment.clicks += 1
    assert "fragment.percent" in s.message and "at most 50" in s.message
    gc.percent.value = "2"
    gc.fragment.clicks += 1
    assert s.message == "" and s.sandbox.actions()[-1].name == "fragment"


def test_action_form_offers_every_action_and_applies_it():
    s = free_play()
    form = ActionForm(s)
    assert set(form.choice.options.values()) == set(view_actions())
    form.choice.value = "alloc"
    assert set(form.widgets) == {"size", "kind", "placement", "node", "addr"}
    form.widgets["size"].value = "64M"
    form.widgets["kind"].value = "cache"
    assert form.submit()
    assert s.sandbox.actions()[-1].to_dict()["kind"] == "cache"
    form.choice.value = "advance"
    form.widgets["seconds"].value = "-1"
    assert not form.submit() and "advance.seconds" in s.message


def view_actions():
    from vmemlab.core.actions import ACTIONS
    return list(ACTIONS)


def test_timeline_scrubber_and_scenario_picker():
    s = SandboxState()
    tl = TimelineControls(s)
    assert tl.undo.disabled and tl.scenario.value == "default"
    tl.lesson_step.clicks += 1
    tl.lesson_step.clicks += 1
    assert s.session.cursor == 2 and tl.scrubber.end == s.sandbox.position == 2
    with param.edit_constant(tl.scrubber):
        tl.scrubber.value_throttled = 1
    assert s.sandbox.position == 1 and s.session.cursor == 1 and not tl.redo.disabled
    others = [n for n in tl.scenario.options.values() if n != "default"]
    if others:
        tl.scenario.value = others[0]
        assert s.scenario_name == others[0] and s.sandbox.position == 0


def test_event_log_shows_the_refusal_and_the_new_events():
    s = free_play()
    log = EventLog(s)
    assert "virtio_mem probe" in log.pane.object
    s.act("request", size="256M")
    assert "PLUG device blocks" in log.pane.object and "step 1: request" in log.pane.object
    s.act("request", size="3M")
    assert "vm-message" in log.pane.object and "3M is not a multiple" in log.pane.object


def test_mirrors_tab_shows_qmp_first():
    s = free_play()
    tab = MirrorsTab(s)
    assert next(iter(tab.functions)) == "qmp_memory_devices"
    s.act("request", size="256M")
    assert "&quot;requested-size&quot;: 268435456" in tab.pane.object


@pytest.mark.parametrize("size", ["128M", "2G"])
def test_block_detail_counts_match_block_info(size):
    s = free_play()
    detail = BlockDetail(s)
    s.act("request", size=size)
    s.act("alloc", size="64M", kind="kernel")
    s.select_block(32)
    info = view.block_info(s.machine, 0, 0)
    assert np.array_equal(detail.source.data["unmovable"], info["unmovable_per_chunk"])


def test_a_view_in_a_hidden_tab_catches_up_when_shown():
    s = free_play()
    tab = MirrorsTab(s)
    tab.set_shown(False)
    before = tab.pane.object
    s.act("request", size="256M")
    assert tab.pane.object == before                              # nothing computed while hidden
    tab.set_shown(True)
    assert "268435456" in tab.pane.object


def test_history_records_every_position_passed_and_never_copies_one_it_did_not_see():
    from vmemlab.web.app import create_app
    from vmemlab.web.history import NO_DATA
    app = create_app(query={"step": ["4"]})                           # steps played while building the page
    pic = app.history.image.data["image"][0]
    assert (pic[:, :5] != NO_DATA).all()
    assert (pic[:2, 1] == view.Cell.MOVABLE).all() and (pic[:, 0] == view.Cell.UNUSED).all()
    s = app.state
    s.scrub(0)
    s.act("request", size="128M")                                     # a new branch ...
    s.undo()
    s.scrub(1)
    assert (app.history.image.data["image"][0][:, 1] != NO_DATA).all()
    late = SandboxState()                                             # a History that joins mid-way
    for _ in range(3):
        late.play_lesson_step()
    h = HistoryImage(late)
    pic = h.image.data["image"][0]
    assert (pic[:, :3] == NO_DATA).all() and (pic[:, 3] != NO_DATA).all()   # grey, not a copy of step 3


def test_no_lesson_text_tells_a_browser_user_to_run_a_terminal_command():
    from vmemlab.web.lesson import LessonPanel
    from vmemlab.web.state import scenario_names
    for name in scenario_names():
        s = SandboxState()
        s.load(name)
        panel = LessonPanel(s)
        texts = [panel.pane.object]
        for _ in s.session.scenario.steps:
            s.play_lesson_step(ask_first=False)
            s.skipped.add(s.session.cursor)
            panel.update()
            texts.append(panel.pane.object)
        assert not any("vmemlab " in t for t in texts), (name, [t for t in texts if "vmemlab " in t][:1])
