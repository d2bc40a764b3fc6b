"""Action controls, all built from ``core.actions.ACTIONS``: quick buttons for the common actions
and a form that offers every action of the registry with its parameters.

Each tab lists its buttons with the action's help text under them (a hover tooltip would lie over
the next button); every click ends in ``SandboxState.act``, so a refused value shows its message
and changes nothing.
"""
from __future__ import annotations

import html

import panel as pn
from bokeh.models import CustomJSTickFormatter

from vmemlab.core.actions import ACTIONS, REQUIRED, Param
from vmemlab.core.units import MiB, format_size

from .base import View
from .markup import html_pane
from .state import SandboxState
from .widgets import FlexRow, ModelSlider

SIZE_TICKS = CustomJSTickFormatter(code="""
    if (tick >= 1048576) return (tick / 1048576).toFixed(tick % 1048576 ? 2 : 0) + ' TiB';
    if (tick >= 1024) return (tick / 1024).toFixed(tick % 1024 ? 2 : 0) + ' GiB';
    return tick + ' MiB';""")


def action_button(name: str, label: str, color: str = "default", **kw) -> pn.widgets.Button:
    return pn.widgets.Button(label=label, color=color, css_classes=[f"vm-do-{name}"], **kw)


def button_help(*buttons: pn.widgets.Button) -> pn.pane.HTML:
    """What each button does (the action registry's help text), listed under the buttons."""
    rows = []
    for b in buttons:
        name = next(c for c in b.css_classes if c.startswith("vm-do-"))[len("vm-do-"):]
        rows.append(f"<li><b>{html.escape(b.label)}</b>: {html.escape(ACTIONS[name].help)}</li>")
    return html_pane(f'<ul class="vm-button-help">{"".join(rows)}</ul>')


def typed(widget: pn.widgets.Widget):
    """What the user typed: ``value_input`` is sent on every key press, ``value`` only on blur,
    which can reach the server after the click it caused; before any key press (a default
    value, or a value set from Python) ``value_input`` is empty and ``value`` holds the text."""
    if isinstance(widget, pn.widgets.TextInput):
        return (widget.value_input or widget.value or "").strip()
    return widget.value


def default_text(p: Param) -> str:
    """What an input shows before the user types: the default, or nothing (then the default applies)."""
    if p.default is REQUIRED or p.default is None or (p.kind == "size" and p.default == 0):
        return ""
    return format_size(p.default) if p.kind == "size" and isinstance(p.default, int) else str(p.default)


def param_widget(action: str, p: Param) -> pn.widgets.Widget:
    """One input for one action parameter; the registry parses and checks what is typed."""
    if p.kind == "choice":
        return pn.widgets.Select(label=p.name, options=list(p.choices), value=p.default, width=130)
    if p.kind == "bool":
        return pn.widgets.Checkbox(label=p.name, value=bool(p.default))
    hint = p.help or p.kind
    return pn.widgets.TextInput(label=p.name, value=default_text(p), placeholder=hint, description=hint, width=130,
                                css_classes=[f"vm-in-{action}-{p.name}"])


class ActionForm(View):
    """Any action of the registry: pick it, fill its parameters, apply."""

    def __init__(self, state: SandboxState, **params):
        self.choice = pn.widgets.Select(label="action", options={f"{s.name}: {s.help}": s.name for s in ACTIONS.values()},
                                        value="request", sizing_mode="stretch_width")
        self.fields = FlexRow()
        self.apply_button = pn.widgets.Button(label="Apply", color="primary", width=90,
                                              css_classes=["vm-form-apply"])
        self.widgets: dict[str, pn.widgets.Widget] = {}
        super().__init__(state, **params)
        self.choice.param.watch(lambda _e: self._build(), "value")
        self.apply_button.on_click(lambda _e: self.submit())
        self._build()

    def _build(self) -> None:
        spec = ACTIONS[self.choice.value]
        self.widgets = {p.name: param_widget(spec.name, p) for p in spec.params}
        self.fields.objects = list(self.widgets.values())

    def submit(self) -> bool:
        return self.state.act(self.choice.value, **{k: typed(w) for k, w in self.widgets.items()})

    def __panel__(self):
        return pn.Column(self.choice, self.fields, self.apply_button, sizing_mode="stretch_width")


class HostControls(View):
    """The host's side: requested-size (slider snaps to the block size, or type a size),
    grow/shrink by one memory block, migration, reset and kexec."""

    def __init__(self, state: SandboxState, **params):
        self.slider = ModelSlider(label="requested_size", start=0, end=1, step=1, format=SIZE_TICKS,
                                  sizing_mode="stretch_width", css_classes=["vm-requested-slider"])
        self.size = pn.widgets.TextInput(label="requested_size", placeholder="e.g. 1G, 300M", width=130,
                                         description=ACTIONS["request"].params[0].help, css_classes=["vm-requested-input"])
        self.set_button = action_button("request", "Set", "primary", width=60, align="end")
        self.grow = action_button("grow", "+1 block", width=90)
        self.shrink = action_button("shrink", "-1 block", width=90)
        self.migration = action_button("migration", "Migration on/off", width=150)
        self.reset = action_button("reset", "Reset VM", "warning", width=100)
        self.kexec = action_button("kexec", "kexec", width=80)
        super().__init__(state, **params)
        self.slider.on_drag(lambda mib: state.act("request", size=mib * MiB))
        self.size.param.watch(lambda _e: self._typed(), "enter_pressed")
        self.set_button.on_click(lambda _e: self._typed())
        self.grow.on_click(lambda _e: state.act("grow"))
        self.shrink.on_click(lambda _e: state.act("shrink"))
        self.migration.on_click(lambda _e: state.act("migration"))
        self.reset.on_click(lambda _e: state.act("reset"))
        self.kexec.on_click(lambda _e: state.act("kexec"))
        self.update()

    def _typed(self) -> None:
        if self.state.act("request", size=typed(self.size)):
            self.size.param.update(value="", value_input="")

    def update(self) -> None:
        d = self.state.machine.devices[0]
        step = max(1, d.block_size // MiB)
        self.slider.show(d.requested_size // MiB, end=d.region_size // MiB, step=step,
                         label=f"requested_size of {d.id} (steps of {d.block_size // MiB} MiB)")
        self.migration.label = "Stop migration" if d.migrating else "Start migration"

    def __panel__(self):
        return pn.Column(self.slider, FlexRow(self.size, self.set_button, self.grow, self.shrink),
                         FlexRow(self.migration, self.reset, self.kexec),
                         button_help(self.grow, self.shrink, self.migration, self.reset, self.kexec),
                         sizing_mode="stretch_width")


class GuestControls(View):
    """The guest's side: allocate/free memory, fragment, online/offline the selected block."""

    def __init__(self, state: SandboxState, **params):
        alloc = {p.name: p for p in ACTIONS["alloc"].params}
        self.alloc_size = pn.widgets.TextInput(label="size", value="256M", width=90, description=alloc["size"].help,
                                               css_classes=["vm-in-alloc-size"])
        self.alloc_kind = pn.widgets.Select(label="kind", options=list(alloc["kind"].choices), value="anon", width=90)
        self.alloc_button = action_button("alloc", "Allocate", width=90, align="end")
        self.free_button = action_button("free", "Free all of kind", width=130, align="end")
        self.percent = pn.widgets.TextInput(label="fragment %", value="1", width=90,
                                            description=dict((p.name, p) for p in ACTIONS["fragment"].params)["percent"].help,
                                            css_classes=["vm-in-fragment-percent"])
        self.fragment = action_button("fragment", "Fragment", width=100, align="end")
        online = {p.name: p for p in ACTIONS["online"].params}
        self.online_type = pn.widgets.Select(label="online as", options=list(online["type"].choices), value="online",
                                             width=140)
        self.online = action_button("online", "Online selected", width=130, align="end")
        self.offline = action_button("offline", "Offline selected", width=130, align="end")
        super().__init__(state, **params)
        self.alloc_button.on_click(lambda _e: state.act("alloc", size=typed(self.alloc_size),
                                                        kind=self.alloc_kind.value))
        self.free_button.on_click(lambda _e: state.act("free", kind=self.alloc_kind.value))
        self.fragment.on_click(lambda _e: state.act("fragment", percent=typed(self.percent)))
        self.online.on_click(lambda _e: state.act_on_selected("online", type=self.online_type.value))
        self.offline.on_click(lambda _e: state.act_on_selected("offline"))

    def __panel__(self):
        return pn.Column(FlexRow(self.alloc_size, self.alloc_kind, self.alloc_button, self.free_button),
                         FlexRow(self.percent, self.fragment),
                         FlexRow(self.online_type, self.online, self.offline),
                         button_help(self.alloc_button, self.free_button, self.fragment, self.online, self.offline),
                         sizing_mode="stretch_width")


class TimeControls(View):
    """The driver's pace: one request, run until idle, let time pass, fire the retry timer."""

    def __init__(self, state: SandboxState, **params):
        self.step = action_button("step", "Driver: 1 request", width=140)
        self.settle = action_button("settle", "Settle", width=80)
        self.seconds = pn.widgets.TextInput(label="seconds", value="10", width=80,
                                            description=ACTIONS["advance"].help)
        self.advance = action_button("advance", "Advance time", width=120, align="end")
        self.retry = action_button("retry", "Fire retry timer", width=130)
        self.auto_settle = pn.widgets.Checkbox.from_param(state.param.auto_settle,
                                                          label="settle after each action (untick to watch request by request)")
        super().__init__(state, **params)
        self.step.on_click(lambda _e: state.act("step"))
        self.settle.on_click(lambda _e: state.act("settle"))
        self.advance.on_click(lambda _e: state.act("advance", seconds=typed(self.seconds)))
        self.retry.on_click(lambda _e: state.act("retry"))

    def __panel__(self):
        return pn.Column(self.auto_settle, FlexRow(self.step, self.settle, self.retry),
                         FlexRow(self.seconds, self.advance),
                         button_help(self.step, self.settle, self.retry, self.advance), sizing_mode="stretch_width")
