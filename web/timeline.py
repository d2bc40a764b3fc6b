"""Timeline controls: scenario picker (shown in the page's top row), next lesson step, play/pause with speed, undo/redo, cancel
and a scrubber over every step (applied ones and those redo would bring back).

Play (``SandboxState.tick``) continues what is pending, one beat at a time: the driver's work one
request per beat, then the next lesson step while the timeline is on the lesson's track; it stops
with a reason, never plays the tour on top of the user's own changes. It runs from
``pn.state.add_periodic_callback``, which works under ``panel serve`` and in Pyodide alike.
"""
from __future__ import annotations

import panel as pn

from .base import View, on_change
from .markup import html_pane
from .state import SandboxState
from .widgets import FlexRow, ModelSlider


class TimelineControls(View):
    def __init__(self, state: SandboxState, **params):
        self._showing = False
        self.scenario = pn.widgets.Select(options=state.picker_options(), value=state.scenario_name,
                                          css_classes=["vm-scenario"], sizing_mode="stretch_width", min_width=220,
                                          styles={"flex": "1 1 300px", "max-width": "520px"})
        self.lesson_step = pn.widgets.Button(label="Next lesson step", color="primary", width=150,
                                             css_classes=["vm-lesson-step"])
        self.play = pn.widgets.Toggle(label="Play", color="success", width=80, css_classes=["vm-play"])
        self.speed = pn.widgets.FloatSlider(label="seconds per beat", start=0.2, end=3.0, step=0.1, value=1.0,
                                            width=150, css_classes=["vm-speed"])
        self.undo = pn.widgets.Button(label="Undo", width=70, css_classes=["vm-undo"])
        self.redo = pn.widgets.Button(label="Redo", width=70, css_classes=["vm-redo"])
        self.cancel = pn.widgets.Button(label="Cancel", width=80, color="danger", disabled=True,
                                        css_classes=["vm-cancel"])
        self.scrubber = ModelSlider(label="step", start=0, end=1, value=0, sizing_mode="stretch_width",
                                    css_classes=["vm-scrubber"])
        self.progress = html_pane(css_classes=["vm-progress-pane"])
        self._beat = None
        super().__init__(state, **params)
        self.scenario.param.watch(self._picked, "value")
        self.lesson_step.on_click(lambda _e: self.next_step())
        self.play.param.watch(self._toggled, "value")
        self.speed.param.watch(self._speed, "value")
        self.undo.on_click(lambda _e: state.undo())
        self.redo.on_click(lambda _e: state.redo())
        self.cancel.on_click(lambda _e: state.cancel())
        self.scrubber.on_drag(state.scrub)
        on_change(state, self._show_work, "working")
        self.update()

    def next_step(self) -> None:
        self.play.value = False
        self.state.play_lesson_step()

    def _picked(self, event) -> None:
        if not self._showing and event.new != self.state.scenario_name:
            self.play.value = False
            self.state.load(event.new)

    def toggle_play(self) -> None:
        self.play.value = not self.play.value

    def _toggled(self, event) -> None:
        self.play.label = "Pause" if event.new else "Play"
        if event.new and self._beat is None:
            self._beat = pn.state.add_periodic_callback(self._tick, period=int(self.speed.value * 1000))
            self._tick()
        elif not event.new and self._beat is not None:
            self._beat.stop()
            self._beat = None

    def _speed(self, event) -> None:
        if self._beat is not None:
            self._beat.period = int(event.new * 1000)

    def _tick(self) -> None:
        why = self.state.tick()
        if why:
            self.play.value = False
            self.state.message = why

    def _show_work(self) -> None:
        busy = bool(self.state.working)
        self.cancel.disabled = not busy
        text = self.state.working or "&nbsp;"
        self.progress.object = f'<div class="vm-progress-line{" vm-busy" if busy else ""}">{text}</div>'

    def update(self) -> None:
        s = self.state
        self._showing = True
        try:
            if s.scenario_name not in self.scenario.options.values():     # an opened trace
                self.scenario.options = s.picker_options()
            self.scenario.value = s.scenario_name
        finally:
            self._showing = False
        length = s.timeline_length
        pos = s.sandbox.position
        lesson = s.session.cursor
        where = f"now at step {pos} of {length}"
        if lesson and not s.session.own_changes:
            where += f" (lesson step {lesson})"
        self.scrubber.show(pos, end=max(1, length), label=f"timeline: {where}")
        self.undo.disabled = pos == 0 and not s.busy
        self.redo.disabled = not s.sandbox.redo_stack
        self.lesson_step.disabled = s.session.next_lesson_step() is None
        self._show_work()

    def __panel__(self):
        buttons = FlexRow(self.lesson_step, self.play, self.speed, self.undo, self.redo, self.cancel)
        return pn.Column(buttons, self.scrubber, self.progress, sizing_mode="stretch_width")
