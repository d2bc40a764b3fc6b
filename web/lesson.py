"""Lesson narration: the scenario's intro or the note of the step just played, and quiz prompts.

A step with ``ask`` shows its question *before* it is played (predict), and its ``answer``
in a fold-out after it was played (reveal), the OSTEP way.
"""
from __future__ import annotations

import html

from .base import HtmlView


class LessonPanel(HtmlView):
    """The lesson's title, progress, narration and quiz prompt."""

    def update(self) -> None:
        s = self.state.session
        sc = s.scenario
        c = s.cursor
        parts = [f'<div class="vm-lesson-title">{html.escape(sc.title)}'
                 f'<span class="vm-progress">step {c} of {len(sc.steps)}</span></div>']
        note = s.current_note()
        if note:
            parts.append(f'<p class="vm-note">{html.escape(note)}</p>')
        done = sc.steps[c - 1] if c else None
        if done is not None and done.ask:
            answer = html.escape(done.answer or "compare your prediction with the map and the event log")
            parts.append(f'<details class="vm-quiz"><summary>Reveal: {html.escape(done.ask)}</summary>'
                         f"<p>{answer}</p></details>")
        upcoming = s.next_lesson_step()
        if upcoming is not None:
            parts.append(f'<p class="vm-next">next: {html.escape(upcoming.title or upcoming.action.label())}</p>')
            if upcoming.ask:
                parts.append(f'<p class="vm-ask">Predict before you play it: {html.escape(upcoming.ask)}</p>')
        elif sc.steps:
            parts.append('<p class="vm-next">the lesson is over; keep experimenting with the controls</p>')
        self.pane.object = '<div class="vm-lesson">' + "".join(parts) + "</div>"
