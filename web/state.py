"""The page's one state object: a core Session wrapped as a Parameterized (Panel's DataStore).

Views watch ``version`` and re-render; they change the model only through the methods here,
which go through the core action registry, so a refused action leaves the model unchanged and
its message (naming the field and the allowed values) lands in ``message``.
"""
from __future__ import annotations

import param

from vmemlab.core import actions as act
from vmemlab.core.actions import Action, ActionError
from vmemlab.core.events import Event
from vmemlab.core.scenario import Scenario, ScenarioError, builtin, default, lesson_files
from vmemlab.core.session import Session

DEFAULT_SCENARIO = "default"


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

    def __init__(self, session: Session | None = None, extra_scenarios: dict[str, Scenario] | None = None,
                 **params):
        super().__init__(**params)
        self.session = session or Session()
        self.extra_scenarios = dict(extra_scenarios or {})
        self.last_events: list[Event] = self.sandbox.last_events()

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

    # ----- changing -------------------------------------------------------------------------
    def _changed(self, events: list[Event], message: str = "") -> None:
        self.last_events = events
        self.message = message
        self.version += 1

    def _refused(self, error: ActionError | ScenarioError) -> bool:
        self.last_events = [self.sandbox.error_event(str(error))]
        self.message = str(error)
        self.version += 1
        return False

    def apply(self, action: Action) -> bool:
        """Apply one action (and settle after it if auto_settle and the action settles)."""
        try:
            events = self.session.apply(action, settle=self.auto_settle and act.ACTIONS[action.name].settles)
        except ActionError as e:
            return self._refused(e)
        self._changed(events)
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
        done = self.session.undo()
        self._changed(self.sandbox.last_events(), "" if done else "undo: nothing to undo")
        return done

    def redo(self) -> bool:
        done = self.session.redo()
        self._changed(self.sandbox.last_events(), "" if done else "redo: nothing to redo")
        return done

    def scrub(self, index: int) -> bool:
        """Go to the state after ``index`` actions, forward through redo if needed."""
        if not 0 <= index <= self.timeline_length:
            return self._refused(ActionError(f"step: {index} does not exist; allowed: 0 to {self.timeline_length}"))
        while self.sandbox.position < index:
            self.session.redo()
        if index < self.sandbox.position:
            self.session.goto(index)
        self._changed(self.sandbox.last_events())
        return True

    def play_lesson_step(self) -> bool:
        """Apply the next lesson step; False when the lesson is over."""
        result = self.session.play_lesson_step()
        if result is None:
            self._changed([], "the lesson has no more steps")
            return False
        self._changed(result.events, result.error)
        return True

    def tick(self) -> bool:
        """One beat of play: the next lesson step, else one driver request; False when nothing is left."""
        if self.session.next_lesson_step() is not None:
            return self.play_lesson_step()
        if self.machine.busy():
            return self.act("step")
        return False

    def scenario_names(self) -> list[str]:
        return list(self.extra_scenarios) + scenario_names()

    def load(self, name: str) -> bool:
        """Start over on a scenario of the picker (a file given to the server, or a shipped one)."""
        try:
            scenario = self.extra_scenarios.get(name) or load_scenario(name)
        except ScenarioError as e:
            return self._refused(e)
        self.load_scenario_object(name, scenario)
        return True

    def load_scenario_object(self, name: str, scenario: Scenario) -> None:
        self.session.load(scenario)
        self.selected_block = None
        self.scenario_name = name
        self._changed(self.sandbox.last_events())

    def select_block(self, sysfs_id: int | None) -> None:
        self.selected_block = sysfs_id
