"""The page's one state object: a core Session wrapped as a Parameterized (Panel's DataStore).

Views watch ``version`` and re-render; they change the model only through the methods here,
which go through the core action registry, so a refused action leaves the model unchanged and
its message (naming the field and the allowed values) lands in ``message``.

Long work never blocks the page: an action's settle (and a lesson step's) is a ``core`` Work
that runs in slices of ``SLICE`` seconds. The page gives the state a ``scheduler`` that calls
``pump`` again from the event loop (Bokeh's periodic callbacks under ``vmemlab serve``, asyncio
in Pyodide), so other tabs' clicks, this tab's Cancel and repaints come in between; views see
the progress through ``working`` and ``version`` (bumped at most every ``PROGRESS_SECONDS``).
Without a scheduler (tests, scripts) the work runs to the end at once.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import param

from vmemlab.core import actions as act
from vmemlab.core import quiz, view
from vmemlab.core.actions import Action, ActionError
from vmemlab.core.events import Event
from vmemlab.core.machine import Metrics
from vmemlab.core.sandbox import Work
from vmemlab.core.scenario import Scenario, ScenarioError, builtin, default, lesson_files
from vmemlab.core.session import Session

DEFAULT_SCENARIO = "default"
SLICE = 0.03              # seconds of model work per slice: other tabs and this tab's clicks wait at most this
PROGRESS_SECONDS = 0.25   # repaint the views during long work at most this often

Job = Iterator[None]      # one slice of work per next(); StopIteration when done


def scenario_names() -> list[str]:
    """What the scenario picker lists: the built-in tour, then every numbered lesson."""
    return [DEFAULT_SCENARIO] + lesson_files()


def load_scenario(name: str) -> Scenario:
    """A shipped scenario by picker name; ScenarioError names the allowed values."""
    names = scenario_names()
    if name not in names:
        raise ScenarioError("scenario", "", f"{name!r} is not known; allowed: {', '.join(names)}")
    return default() if name == DEFAULT_SCENARIO else builtin(name)


class SandboxState(param.Parameterized):
    """A Session plus what the page selected; every change bumps ``version``."""

    version = param.Integer(default=0, doc="bumped after every change of the model")
    selected_block = param.Integer(default=None, allow_None=True,
                                   doc="sysfs memoryN number of the block shown in the block detail")
    message = param.String(default="", doc="the last refusal or notice, shown above the controls")
    auto_settle = param.Boolean(default=True, doc="run the driver until idle after each action")
    scenario_name = param.String(default=DEFAULT_SCENARIO)
    working = param.String(default="", doc="what long work runs now ('' = idle), with its progress")
    quiz_version = param.Integer(default=0, doc="bumped when a prediction is locked in, graded or skipped")
    present = param.Boolean(default=False, doc="presentation mode: the map and the status bar fill the screen")

    def __init__(self, session: Session | None = None, extra_scenarios: dict[str, Scenario] | None = None,
                 **params):
        super().__init__(**params)
        self.session = session or Session()
        self.extra_scenarios = dict(extra_scenarios or {})
        self.last_events: list[Event] = self.sandbox.last_events()
        self.scheduler: Callable[[Callable[[], bool]], None] | None = None
        self._job: Job | None = None
        self._watched: Work | None = None      # a lesson step's settle that Play runs one request per beat
        self._pumping = False
        self._shown_at = 0.0
        self._marks: tuple | None = None          # (device, first event, events seen, marks)
        # Called with no argument at every timeline position the state passes, shown or not
        # (a redo on the way to a scrub target, a link's replay): the History records them all.
        self.position_listeners: list[Callable[[], None]] = []
        # The student's predictions, by lesson step: what the page knows about the student, not
        # about the model (like the selected block); a new scenario starts them afresh.
        self.predictions: dict[int, str] = {}
        self.grades: dict[int, quiz.Grade] = {}
        self.skipped: set[int] = set()

    # ----- reading --------------------------------------------------------------------------
    @property
    def sandbox(self):
        return self.session.sandbox

    @property
    def machine(self):
        return self.session.machine

    @property
    def timeline_length(self) -> int:
        """Applied actions plus those that redo would bring back: the scrubber's range."""
        return self.sandbox.length

    @property
    def busy(self) -> bool:
        """Long work is running in slices (its change is not on the timeline yet)."""
        return self._job is not None

    def before_metrics(self) -> Metrics | None:
        """The numbers before the change shown now (the pending one, or the last one)."""
        history = self.sandbox.metrics_history()
        if self.session.work is not None:
            return history[-1]
        return history[-2] if len(history) > 1 else None

    def block_marks(self, dev: int) -> np.ndarray:
        """``core.view.block_marks`` of the change shown now. While a settle runs its events only
        grow, and marks combine by maximum, so each repaint looks at the new events only (a
        4 TiB plug has 65,000 events; going through all of them at every repaint took 40 s)."""
        events = self.last_events
        cached = self._marks
        if cached and events and cached[0] == dev and cached[1] is events[0] and cached[2] <= len(events):
            marks = np.maximum(cached[3], view.block_marks(self.machine, dev, events[cached[2]:]))
        else:
            marks = view.block_marks(self.machine, dev, events)
        self._marks = (dev, events[0] if events else None, len(events), marks)
        return marks

    # ----- long work ------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        """Start ``job``: its first slice now, the rest from the scheduler (or at once without one)."""
        self._job = job
        if self.scheduler is None:
            while self.pump():
                pass
            return
        if self.pump():
            self.scheduler(self.pump)

    def pump(self) -> bool:
        """Run one slice of the current job; True while there is more to do."""
        job = self._job
        if job is None or self._pumping:
            return job is not None
        self._pumping = True
        try:
            next(job)
        except StopIteration:
            if self._job is job:
                self._job = None
                self.working = ""
        finally:
            self._pumping = False
        return self._job is not None

    def _work_job(self, work: Work, label: str, done: Callable[[list[Event]], None]) -> Job:
        """Slices of ``work``; progress shown while it runs, ``done(events)`` once committed."""
        while not work.done and not work.run(seconds=SLICE):
            now = time.perf_counter()
            if not self.working or now - self._shown_at >= PROGRESS_SECONDS:   # at once, then now and then
                self._shown_at = now
                self.working = f"{label}: {work.steps:,} driver requests so far"
                self.last_events = work.events()
                self.version += 1
            yield
        if work.done and self._job is not None:
            self._finish()
            done(work.events())

    def _finish(self) -> None:
        self._job = self._watched = None
        self.working = ""

    def cancel(self) -> bool:
        """Stop the running settle at the next driver request; the timeline keeps what it did
        (replayable: "settle stopped after N driver steps"), and undo takes the whole action back."""
        work = self.session.work
        if self._job is None or work is None:
            return False
        steps = work.steps
        self.session.cancel_work()
        self._finish()
        self._changed(self.sandbox.last_events(),
                      f"stopped after {steps:,} driver requests; the timeline keeps what was done "
                      "(undo takes the whole action back)")
        return True

    def _interrupt(self) -> None:
        """A new gesture ends running work first (the core records what it did)."""
        if self._job is not None:
            self.session.cancel_work()
            self._finish()

    # ----- changing -------------------------------------------------------------------------
    def _passed(self) -> None:
        for listener in self.position_listeners:
            listener()

    def _changed(self, events: list[Event], message: str = "") -> None:
        self.last_events = events
        self.message = message
        self._shown_at = time.perf_counter()
        self.version += 1

    def _refused(self, error: ActionError | ScenarioError) -> bool:
        self.last_events = [self.sandbox.error_event(str(error))]
        self.message = str(error)
        self.version += 1
        return False

    def apply(self, action: Action) -> bool:
        """Apply one action (and settle after it if auto_settle and the action settles); the
        settle runs in slices."""
        self._interrupt()
        try:
            work = self.session.start(action, settle=self.auto_settle and act.ACTIONS[action.name].settles)
        except ActionError as e:
            return self._refused(e)
        self._run(self._work_job(work, action.label(), self._changed))
        return True

    def act(self, name: str, **raw) -> bool:
        """Build an action from raw widget values (strings, numbers) and apply it."""
        try:
            action = act.make(name, **{k: v for k, v in raw.items() if v not in (None, "")})
        except ActionError as e:
            return self._refused(e)
        return self.apply(action)

    def act_on_selected(self, name: str, **raw) -> bool:
        """online/offline the selected memory block."""
        if self.selected_block is None:
            return self._refused(ActionError(f"{name}.block: no memory block selected; tap a block in the region map"))
        return self.act(name, block=self.selected_block, **raw)

    def undo(self) -> bool:
        self._interrupt()
        done = self.session.undo()
        self._changed(self.sandbox.last_events(), "" if done else "undo: nothing to undo")
        return done

    def redo(self) -> bool:
        self._interrupt()
        done = self.session.redo()
        self._changed(self.sandbox.last_events(), "" if done else "redo: nothing to redo")
        return done

    def scrub(self, index: int) -> bool:
        """Go to the state after ``index`` actions, forward through redo if needed."""
        self._interrupt()
        if not 0 <= index <= self.timeline_length:
            return self._refused(ActionError(f"step: {index} does not exist; allowed: 0 to {self.timeline_length}"))
        while self.sandbox.position < index:
            self.session.redo()
            self._passed()
        if index < self.sandbox.position:
            self.session.goto(index)
        self._changed(self.sandbox.last_events())
        return True

    def play_lesson_step(self, watch: bool = False, ask_first: bool = True) -> bool:
        """Start the next lesson step (its settle in slices); False when the lesson is over or
        (``ask_first``) the step waits for the student's prediction.
        ``watch``: leave the settle pending, for Play to run one driver request per beat."""
        waiting = self.waiting_for_prediction() if ask_first else ""
        if waiting:
            self.message = waiting
            return False
        self._interrupt()
        step = self.session.next_lesson_step()
        work = self.session.start_lesson_step()
        if work is None or step is None:
            self._changed([], "the lesson has no more steps")
            return False
        error = self.session.step_error

        def done(events: list[Event]) -> None:
            if step.index in self.predictions and self.session.cursor == step.index:
                self.grades[step.index] = quiz.grade_last_step(step, self.predictions[step.index], self.sandbox,
                                                               error, self.session.scenario)
                self.quiz_version += 1
            self._changed([self.sandbox.error_event(error)] if error else events, error)

        if watch and not work.done and work.settles:
            self.last_events = work.events()
            self.working = f"lesson step {step.index}: one driver request per beat"
            self._job, self._watched = self._beats(work, done), work
            self.version += 1
        else:
            self._run(self._work_job(work, f"lesson step {step.index}", done))
        return True

    def _beats(self, work: Work, done: Callable[[list[Event]], None]) -> Job:
        """A Work that Play advances one driver request per beat (``beat``), never by the scheduler."""
        while not work.done:
            yield
        if self._job is not None:
            self._finish()
            done(work.events())

    def beat(self) -> bool:
        """One driver request of the lesson step Play is watching; True while it has more."""
        work = self._watched
        if work is None:
            return False
        if work.run(steps=1):
            self.pump()
            return False
        self.last_events = work.events()
        self.working = f"{self.working.split(':')[0]}: {work.steps} driver requests so far, one per beat"
        self.version += 1
        return True

    def tick(self) -> str:
        """One beat of Play. Returns "" to keep playing, else why Play stops.

        Play continues what is pending, one beat at a time, and never anything else: a driver
        with work sends one request per beat (the user's own request with "settle after each
        action" off, or a lesson step Play is watching); an idle driver gets the next lesson
        step, but only while the timeline is on the lesson's track. After the user's own
        actions Play stops and says so: playing the tour on top of them would mix the two."""
        if self._watched is not None:
            self.beat()
            return ""
        if self.busy:
            return ""                                   # the last beat's settle is still running
        step = self.session.next_lesson_step()
        own = self.session.own_changes
        if self.machine.busy() and (own or step is None):
            self.act("step")                            # the user's own request, one driver request per beat
            return ""
        if step is None:
            return "Play stopped: nothing left to do (the driver is idle and the lesson is over)"
        waiting = self.waiting_for_prediction()
        if waiting:
            return "Play paused at a question. " + waiting
        if own:
            return (f"Play stopped: you made {own} change{'s' if own > 1 else ''} of your own after the lesson's "
                    f"last step, so the tour does not continue on top of them. 'Next lesson step' plays step "
                    f"{step.index} on your machine as it is; undo your changes to follow the tour")
        self.play_lesson_step(watch=not self.auto_settle)
        return ""

    # ----- links and trace files -----------------------------------------------------------
    def open_shared(self, shared, name: str, scenario: Scenario) -> None:
        """Start over on ``scenario`` and replay a link's or a trace's changes, in slices (a
        link may carry a long settle). A change the model refuses stops the replay there, with
        a message; the page keeps what replayed before it."""
        self.load_scenario_object(name, scenario)
        self._run(self._replay_job(shared))

    def _replay_job(self, shared) -> Job:
        from .links import replay_mismatch
        sb = self.sandbox
        n = len(shared.changes)
        message = f"opened {'the trace' if shared.config is not None else 'the link'}: {n} changes replayed"
        for i, change in enumerate(shared.changes, start=1):
            try:
                work = sb.begin(change)
            except ActionError as e:
                message = (f"change {i} of the link ({change.label()}) was refused: {e}; "
                           f"the page shows the {i - 1} changes before it")
                break
            while not work.run(seconds=SLICE):
                if not self.working or time.perf_counter() - self._shown_at > PROGRESS_SECONDS:
                    self._shown_at = time.perf_counter()
                    self.working = f"opening: change {i} of {n}, {work.steps:,} driver requests"
                yield
            self._passed()
            if i < n and time.perf_counter() - self._shown_at > PROGRESS_SECONDS:
                self._shown_at = time.perf_counter()
                self.working = f"opening: change {i} of {n}"
                yield
        else:
            mismatch = replay_mismatch(sb, shared.metrics)
            if mismatch:
                message += (f"; the model differs from the recorded trace {mismatch} (recorded with another "
                            "version of vmemlab?)")
        self._finish()
        self._changed(sb.last_events(), message)

    # ----- predictions ----------------------------------------------------------------------
    def waiting_for_prediction(self) -> str:
        """Why the next lesson step waits ('' if it does not): it asks for a prediction first."""
        step = self.session.next_lesson_step()
        if step is None or not step.ask or step.index in self.predictions or step.index in self.skipped:
            return ""
        return (f"Lesson step {step.index} asks you to predict first: type your answer (or tap a block on the map) "
                "and press 'Lock in', or 'Skip the question'")

    def predict(self, text: str) -> bool:
        """Lock in a prediction for the next lesson step (graded once it has played)."""
        step = self.session.next_lesson_step()
        said = quiz.clean(text)
        if step is None or not step.ask:
            self.message = "no question is open: the next lesson step does not ask for a prediction"
            return False
        if not said:
            self.message = "prediction: type an answer first (a size like 2M, a number, or a block like memory39)"
            return False
        self.predictions[step.index] = said
        self.message = ""
        self.quiz_version += 1
        return True

    def skip_question(self) -> None:
        """Play the next lesson step without predicting (not graded)."""
        step = self.session.next_lesson_step()
        if step is not None and step.ask:
            self.skipped.add(step.index)
            self.message = ""
            self.quiz_version += 1

    def scenario_names(self) -> list[str]:
        return list(self.extra_scenarios) + scenario_names()

    def picker_options(self) -> dict[str, str]:
        """The picker's entries, label -> name: lesson titles; a file given to the server or an
        opened trace also says what it is (a label must be unique: the browser sends labels)."""
        out: dict[str, str] = {}
        for name in self.scenario_names():
            title = self.scenario_title(name)
            label = f"{title} ({name})" if name in self.extra_scenarios or title in out else title
            out[label] = name
        return out

    def scenario_title(self, name: str) -> str:
        """The title the picker shows for a scenario name."""
        sc = self.extra_scenarios.get(name)
        if sc is not None:
            return sc.title
        try:
            return load_scenario(name).title
        except ScenarioError:
            return name

    def scenario_object(self, name: str) -> Scenario:
        """A scenario of the picker by name (a file given to the server, or a shipped one)."""
        return self.extra_scenarios.get(name) or load_scenario(name)

    def load(self, name: str) -> bool:
        """Start over on a scenario of the picker (a file given to the server, or a shipped one)."""
        try:
            scenario = self.extra_scenarios.get(name) or load_scenario(name)
        except ScenarioError as e:
            return self._refused(e)
        self.load_scenario_object(name, scenario)
        return True

    def load_scenario_object(self, name: str, scenario: Scenario) -> None:
        self._interrupt()
        self.session.load(scenario)
        self.predictions, self.grades, self.skipped = {}, {}, set()
        self.quiz_version += 1
        self.selected_block = None
        self.scenario_name = name
        self._changed(self.sandbox.last_events())

    def select_block(self, sysfs_id: int | None) -> None:
        self.selected_block = sysfs_id
