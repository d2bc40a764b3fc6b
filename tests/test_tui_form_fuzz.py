"""Every field of every action's form, fed bad values: one clear refusal in the form (naming the
field), nothing changed, the form still open; and no value crashes the app."""
from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from helpers import fingerprint
from tui_helpers import make_app, wait_for
from vmemlab.core.actions import ACTIONS, REQUIRED
from vmemlab.tui.forms import HIDDEN_PARAMS, ActionForm

# Values no field of that kind may accept, whatever the action: they are not numbers or sizes.
# (Sizes larger than the guest are allowed where they mean "as much as there is": alloc, free
# and pin of 99T allocate, free or pin everything; Unicode digits such as "٣" are digits.)
BAD = {
    "size": ["lots", "12Q", "1.5.5G", "-1M", "0.3K", "1e9", "G", "4 G B"],
    "int": ["x", "1.5", "0x10", "nan", "1e3", "--1"],
    "float": ["x", "nan", "inf", "-inf", "1e400", "--1", "1,5"],
    "str": [""],
}
# ...and values outside what the action allows.
HUGE = "99999999999999999999999"
OUT_OF_RANGE = {
    ("alloc", "node"): ["-1", "7", HUGE], ("alloc", "addr"): ["0x1001", "1", HUGE + "T"],
    ("request", "size"): ["3M", "8G", "1023M", HUGE + "T"], ("grow", "by"): ["3M", "64G", HUGE + "T"],
    ("shrink", "by"): ["3M", "8G", HUGE + "T"], ("fragment", "percent"): ["0", "-1", "51"],
    ("fragment", "node"): ["-1", "5", HUGE], ("advance", "seconds"): ["0", "-5", "40000000"],
    ("step", "count"): ["0", "-3"], ("online", "block"): ["-1", "1000000", HUGE],
    ("offline", "block"): ["-1", "1000000"], ("pin", "tries"): ["-3", "0"],
}


def cases() -> list[tuple[str, str, str]]:
    out = []
    for spec in ACTIONS.values():
        for p in spec.params:
            if p.name in HIDDEN_PARAMS or p.kind in ("choice", "bool"):
                continue
            kind = "size" if p.kind == "size" else p.kind
            for value in BAD.get(kind, []) + OUT_OF_RANGE.get((spec.name, p.name), []):
                if kind == "str" and p.default is not REQUIRED and value == "":
                    continue            # an optional text may be empty
                out.append((spec.name, p.name, value))
    return out


def test_every_text_field_of_every_action_is_fuzzed():
    fields = {(name, p.name) for name, spec in ACTIONS.items() for p in spec.params
              if p.name not in HIDDEN_PARAMS and p.kind not in ("choice", "bool")}
    assert fields == {(name, field) for name, field, _ in cases()}


@pytest.mark.parametrize("action", sorted({name for name, _, _ in cases()}))
def test_bad_values_are_refused_in_the_form_and_change_nothing(action):
    async def go():
        app = make_app()
        s = app.session
        s.play_lesson_step()            # 1 GiB plugged: blocks, pages and a timeline to protect
        s.play_lesson_step()
        async with app.run_test(size=(80, 24)) as pilot:
            for name, field, value in [c for c in cases() if c[0] == action]:
                before = (fingerprint(s.machine), s.sandbox.position, len(s.sandbox.events))
                app.action_act_form(name)
                await wait_for(pilot, lambda: isinstance(app.screen, ActionForm)
                               and bool(app.screen.query(f"#field-{field}")))
                form = app.screen
                for other in form.query(Input):          # required fields get a good value
                    if other.id != f"field-{field}" and not other.value:
                        other.value = {"size": "64M", "text": "hello", "seconds": "1", "block": "32"}.get(
                            other.id.removeprefix("field-"), "")
                form.query_one(f"#field-{field}", Input).value = value
                form.action_apply()
                await pilot.pause()
                where = f"{name}.{field}={value!r}"
                assert app.is_running, where
                assert isinstance(app.screen, ActionForm), f"{where} was accepted"
                error = str(form.query_one("#form-error").render())
                assert error.startswith("refused, nothing changed: ") and "\n" not in error, where
                # grow/shrink name what their value would make: requested-size (and its limits)
                named = (field, name) + (("requested-size",) if name in ("grow", "shrink") else ())
                assert any(n in error for n in named), f"{where}: the refusal does not name the field: {error}"
                assert (fingerprint(s.machine), s.sandbox.position, len(s.sandbox.events)) == before, where
                assert "refused" not in str(app.query_one("#status").render()), f"{where}: reported twice"
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
    asyncio.run(go())
