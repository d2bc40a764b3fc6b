"""Lesson narration, and predictions that count.

The box has a fixed height and scrolls on its own, so nothing below it moves when the narration
changes. For a step with ``ask`` the question comes *before* the step: the student types an
answer (or taps a block on the map) and locks it in, or skips the question; until then "Next
lesson step" and Play wait. Once the step has played, its narration (which gives the answer)
shows with the grade (``core.quiz``, as ``vmemlab run --quiz`` grades). A step reached without a
prediction (a shared link, undo/redo) keeps its narration folded until the student reveals it.
"""
from __future__ import annotations

import html
import re

import panel as pn

from vmemlab.core import expect, quiz

from .base import View, on_change
from .markup import html_pane
from .state import SandboxState
from .widgets import FlexRow


# Lesson files are written for every view; a few tell the reader to run a terminal command. In
# the browser the same thing is a tab or a button away, so those sentences say that instead.
BROWSER_WORDS = (
    (re.compile(r"the Compare view,\s+`vmemlab compare`,\s+"), lambda _m: "the Compare tab below "),
    (re.compile(r"The Compare view\s+\(`vmemlab compare`(?:,\s+([^)]*))?\)"),
     lambda m: "The Compare tab below" + (f" ({' '.join(m.group(1).split())})" if m.group(1) else "")),
    (re.compile(r"Run it with `vmemlab compare[^`]*`(?: \([^)]*\))?( to see)?"),
     lambda m: "Open the Compare tab below and press Compare this run" + (" to see" if m.group(1) else "")),
    (re.compile(r"`vmemlab run` plays"), lambda _m: "Next lesson step plays"),
)


def for_browser(text: str) -> str:
    """A lesson text with its terminal commands said the browser's way."""
    for pattern, words in BROWSER_WORDS:
        text = pattern.sub(words, text)
    return text


class LessonPanel(View):
    """The lesson's title, progress, narration and the question of the step ahead."""

    def __init__(self, state: SandboxState, **params):
        self.pane = html_pane(css_classes=["vm-lesson-pane"])
        self.answer = pn.widgets.TextInput(placeholder="your prediction: 2M, 4, memory39 ...", width=260,
                                           css_classes=["vm-prediction"])
        self.lock = pn.widgets.Button(label="Lock in", color="primary", width=90, css_classes=["vm-lock"])
        self.skip = pn.widgets.Button(label="Skip the question", width=150, css_classes=["vm-skip"])
        self.reveal = pn.widgets.Button(label="Reveal the explanation", width=190, css_classes=["vm-reveal"])
        self.row = FlexRow(self.answer, self.lock, self.skip, self.reveal, css_classes=["vm-quiz-row"])
        super().__init__(state, **params)
        self.lock.on_click(lambda _e: self._lock())
        self.answer.param.watch(lambda _e: self._lock(), "enter_pressed")
        self.skip.on_click(lambda _e: state.skip_question())
        self.reveal.on_click(lambda _e: self._reveal())
        on_change(state, self.update, "quiz_version")
        on_change(state, self._tapped, "selected_block")
        self.update()

    def __panel__(self):
        return pn.Column(self.pane, self.row, sizing_mode="stretch_width", css_classes=["vm-lesson-box"],
                         styles={"min-width": "0px"})

    def _lock(self) -> None:
        from .controls import typed
        if self.state.predict(typed(self.answer)):
            self.answer.param.update(value="", value_input="")

    def _reveal(self) -> None:
        c = self.state.session.cursor
        if c:
            self.state.skipped.add(c)
            self.state.quiz_version += 1

    def _tapped(self) -> None:
        """A tap on the map while a question about blocks is open answers with that block."""
        step = self.state.session.next_lesson_step()
        b = self.state.selected_block
        if b is None or step is None or not step.ask or step.index in self.state.predictions or not taps(step):
            return
        name = f"memory{b}"
        current = (self.answer.value_input or self.answer.value or "").strip()
        many = quiz.gradable_key(step.expect) in expect.KEYS and expect.KEYS[quiz.gradable_key(step.expect)].kind == "ids"
        text = f"{current}, {name}" if many and current and name not in current else name
        self.answer.param.update(value=text, value_input=text)

    def update(self) -> None:
        s = self.state
        sess = s.session
        sc = sess.scenario
        c = sess.cursor
        pos = s.sandbox.position
        own = sess.own_changes
        where = f"lesson step {c} of {len(sc.steps)}" + (f" (timeline step {pos})" if own or pos != c else "")
        parts = [f'<div class="vm-lesson-title">{html.escape(sc.title)}<span class="vm-progress">{where}</span></div>']
        done = sc.steps[c - 1] if c else None
        show_answer = True
        playing = sess.playing_step
        if playing is not None and playing.ask and playing.index not in s.predictions:
            show_answer = playing.index in s.skipped
        elif done is not None and done.ask and playing is None:
            graded = s.grades.get(done.index)
            if graded is not None:
                cls = "vm-right" if graded.ok else "vm-wrong" if graded.ok is False else "vm-ungraded"
                mark = "✔ " if graded.ok else "✘ " if graded.ok is False else ""
                parts.append(f'<p class="vm-grade {cls}">{mark}{html.escape(graded.text())}</p>')
            elif done.index in s.predictions:
                parts.append(f'<p class="vm-grade vm-ungraded">you predicted: {html.escape(s.predictions[done.index])} '
                             "(graded only right after the step plays)</p>")
            elif done.index not in s.skipped:
                show_answer = False
                parts.append(f'<p class="vm-ask">Step {done.index} asked: {html.escape(done.ask)}</p>'
                             '<p class="vm-hint">You have not predicted it, so its explanation stays folded: '
                             "think about it, then press <b>Reveal the explanation</b>.</p>")
        upcoming = sess.next_lesson_step()
        asking = False
        ahead: list[str] = []
        if upcoming is not None:
            ahead.append(f'<p class="vm-next">next: {html.escape(upcoming.title or upcoming.action.label())}</p>')
            if upcoming.ask:
                said = s.predictions.get(upcoming.index)
                if said is not None:
                    ahead.append(f'<p class="vm-ask">Predict: {html.escape(upcoming.ask)}</p>'
                                 f'<p class="vm-locked">your prediction: <b>{html.escape(said)}</b> (locked in; '
                                 "now play the step)</p>")
                elif upcoming.index in s.skipped:
                    ahead.append(f'<p class="vm-ask">Question skipped: {html.escape(upcoming.ask)}</p>')
                else:
                    asking = True
                    tap = " (or tap the block on the map)" if taps(upcoming) else ""
                    ahead.append(f'<p class="vm-ask">Predict before you play it: {html.escape(upcoming.ask)}</p>'
                                 f'<p class="vm-hint">Type your answer{tap} and press Lock in.</p>')
        elif sc.steps:
            ahead.append('<p class="vm-next">the lesson is over; keep experimenting with the controls</p>')
        # the question ahead first (it must be seen before the step is played), then the narration
        if asking:
            parts[1:1] = ahead
        note = for_browser(sess.current_note())
        if note and show_answer:
            parts.append(f'<p class="vm-note">{html.escape(note)}</p>')
        if done is not None and done.ask and done.answer and show_answer and playing is None:
            parts.append(f'<p class="vm-answer"><b>Answer:</b> {html.escape(done.answer)}</p>')
        if not asking:
            parts += ahead
        self.pane.object = '<div class="vm-lesson">' + "".join(parts) + "</div>"
        folded = not show_answer and playing is None
        # hidden, not removed: the row keeps its place, so nothing below moves under the pointer
        for widget, shown in ((self.answer, asking), (self.lock, asking), (self.skip, asking), (self.reveal, folded)):
            widget.styles = {"visibility": "visible" if shown else "hidden"}


def taps(step) -> bool:
    """Can a tap on the map answer this question (it asks which memory block(s))?"""
    key = quiz.gradable_key(step.expect)
    return key is not None and (key in ("block", "first_removed") or expect.KEYS[key].kind == "ids")
