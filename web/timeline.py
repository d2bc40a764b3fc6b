"""Timeline controls: scenario picker, next lesson step, play/pause with speed, undo/redo and
a scrubber over every step (applied ones and those redo would bring back).

Play uses ``pn.state.add_periodic_callback``, which works under ``panel serve`` and in Pyodide
alike (no threads). Each beat plays the next lesson step, or one driver request when the
lesson is over and the driver has work, and stops when there is nothing left.
"""
from __future__ import annotations

import panel as pn

from .base import View
from .state import SandboxState
from .widgets import ModelSlider


class TimelineControls(View):
    def __init__(self, state: SandboxState, **params):
        self.scenario = pn.widgets.Select(label="scenario", options=state.scenario_names(), value=state.scenario_name,
                                          width=260, css_classes=["vm-scenario"])
        self.lesson_step = pn.widgets.Button(label="Next lesson step", color="primary", width=150,
                                             align="end", css_classes=["vm-lesson-step"],
                                             description="Play the next step of the scenario (and settle if it says so)")
        self.play = pn.widgets.Toggle(label="Play", color="success", width=80, align="end",
                                      css_classes=["vm-play"])
        self.speed = pn.widgets.FloatSlider(label="seconds per beat", start=0.2, end=3.0, step=0.1, value=1.0,
                                            width=160)
        self.undo = pn.widgets.Button(label="Undo", width=70, align="end", css_classes=["vm-undo"])
        self.redo = pn.widgets.Button(label="Redo", width=70, align="end", css_classes=["vm-redo"])
        self.scrubber = ModelSlider(label="step", start=0, end=1, value=0, sizing_mode="stretch_width",
                                    css_classes=["vm-scrubber"])
        self._beat = None
        super().__init__(state, **params)
        self.scenario.param.watch(self._picked, "value")
        self.lesson_step.on_click(lambda _e: state.play_lesson_step())
        self.play.param.watch(self._toggled, "value")
        self.speed.param.watch(self._speed, "value")
        self.undo.on_click(lambda _e: state.undo())
        self.redo.on_click(lambda _e: state.redo())
        self.scrubber.on_drag(state.scrub)
        self.update()

    def _picked(self, event) -> None:
        if event.new != self.state.scenario_name:
            self.play.value = False
            self.state.load(event.new)

    def _toggled(self, event) -> None:
        self.play.label = "Pause" if event.new else "Play"
        if event.new and self._beat is None:
            self._beat = pn.state.add_periodic_callback(self._tick, period=int(self.speed.value * 1000))
        elif not event.new and self._beat is not None:
            self._beat.stop()
            self._beat = None

    def _speed(self, event) -> None:
        if self._beat is not None:
            self._beat.period = int(event.new * 1000)

    def _tick(self) -> None:
        if not self.state.tick():
            self.play.value = False

    def update(self) -> None:
        s = self.state
        self.scenario.value = s.scenario_name
        length = s.timeline_length
        self.scrubber.show(s.sandbox.position, end=max(1, length), label=f"timeline: {length} actions; now after")
        self.undo.disabled = s.sandbox.position == 0
        self.redo.disabled = not s.sandbox.redo_stack
        self.lesson_step.disabled = s.session.next_lesson_step() is None

    def __panel__(self):
        return pn.Column(pn.Row(self.scenario, self.lesson_step, self.play, self.speed, self.undo, self.redo),
                         self.scrubber, sizing_mode="stretch_width")
