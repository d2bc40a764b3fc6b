"""No lost work: drastic keys ask first, quit/load/crash save the session, the next start offers
it back, exports never overwrite."""
from __future__ import annotations

import asyncio
import json

import pytest

from helpers import fingerprint
from tui_helpers import SIZE, flat_text, make_app, screen_text, wait_for
from vmemlab.core.actions import ACTIONS, make
from vmemlab.core.session import Session
from vmemlab.tui import recovery
from vmemlab.tui.app import VmemLabApp
from vmemlab.tui.forms import ActionForm
from vmemlab.tui.screens import ConfirmScreen, LoadScreen


def built(app: VmemLabApp) -> None:
    """Two lesson steps and an undone action: a timeline worth keeping, with something to redo."""
    s = app.session
    s.play_lesson_step()
    s.play_lesson_step()
    s.do("grow")
    s.undo()


def question(app) -> str:
    """The text of the open yes/no dialog, as one line."""
    assert isinstance(app.screen, ConfirmScreen)
    return " ".join(str(app.screen.query_one("#confirm-text").render()).split())


DRASTIC = [(spec.key, spec.name) for spec in ACTIONS.values() if spec.drastic]


def test_every_action_that_reboots_or_breaks_the_guest_is_drastic():
    assert {name for _k, name in DRASTIC} == {"reset", "kexec", "kdump", "buggy_request"}


@pytest.mark.parametrize("key,action", DRASTIC)
def test_a_drastic_key_asks_first_and_a_caps_lock_typo_changes_nothing(key, action, tmp_path):
    async def go():
        app = make_app(tmp_path)
        built(app)
        async with app.run_test(size=SIZE) as pilot:
            before = fingerprint(app.session.machine)
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, ActionForm))
            assert app.screen.spec.name == action and app.focused.id == "apply"
            await pilot.press(key.lower(), "escape")     # Caps Lock off again: the typo goes nowhere
            await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
            assert fingerprint(app.session.machine) == before and app.session.sandbox.position == 2
            await pilot.press(key, "enter")               # the deliberate second key press
            await wait_for(pilot, lambda: not isinstance(app.screen, ActionForm))
            assert app.session.sandbox.actions()[-1].name == action
    asyncio.run(go())


def test_quit_with_nothing_done_leaves_at_once_and_saves_nothing(tmp_path):
    async def go():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running or app._exit
        assert app.saved_to is None and not list((tmp_path / "state").glob("*.json"))
    asyncio.run(go())


def test_quit_asks_saves_and_the_next_start_reopens_the_same_session(tmp_path):
    async def go():
        app = make_app(tmp_path)
        built(app)
        want = fingerprint(app.session.machine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "This session has 3 actions" in question(app)      # 2 applied + 1 to redo
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert app.is_running
            await pilot.press("q", "enter")
            await pilot.pause()
        assert app.saved_to is not None and app.saved_to.parent == tmp_path / "state"
        assert recovery.pending_offer(tmp_path / "state").path == app.saved_to

        again = make_app(tmp_path)
        async with again.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "you quit" in flat_text(again))
            assert "had 3 actions" in question(again)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(again.screen, ConfirmScreen))
            s = again.session
            assert fingerprint(s.machine) == want and s.cursor == 2 and len(s.sandbox.redo_stack) == 1
            assert s.scenario.title == "A tour of virtio-mem" and s.next_lesson_step().index == 3
        assert recovery.pending_offer(tmp_path / "state") is None      # asked once
    asyncio.run(go())


def test_declining_the_offer_keeps_the_file(tmp_path):
    async def go():
        app = make_app(tmp_path)
        built(app)
        path = recovery.save(app.session, tmp_path / "state", "quit")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert path.is_file() and recovery.pending_offer(tmp_path / "state") is None
        assert recovery.saved_sessions(tmp_path / "state") == [path]
    asyncio.run(go())


def test_a_crash_saves_the_session_and_the_next_start_offers_it(tmp_path):
    async def go():
        app = make_app(tmp_path)
        built(app)
        want = fingerprint(app.session.machine)

        def boom() -> None:
            raise RuntimeError("a bug in a view")

        with pytest.raises(RuntimeError, match="a bug in a view"):
            async with app.run_test(size=SIZE) as pilot:
                app.call_later(boom)
                await pilot.pause(0.2)
        offer = recovery.pending_offer(tmp_path / "state")
        assert offer is not None and offer.reason == "crash" and offer.path == app.saved_to
        session, warning = recovery.reopen(offer.path)
        assert warning == "" and fingerprint(session.machine) == want
    asyncio.run(go())


def test_a_crash_during_a_long_settle_keeps_what_it_did(tmp_path):
    app = make_app(tmp_path)
    app.session.do("request", size="1G")
    app.session.start(make("settle")).run(steps=3)
    path = recovery.save(app.session, tmp_path / "state", "crash")
    session, warning = recovery.reopen(path)
    assert warning == "" and session.sandbox.changes()[-1].max_steps == 3
    assert fingerprint(session.machine) == fingerprint(app.session.machine)


def test_load_asks_first_saves_the_old_session_and_lists_it(tmp_path):
    async def go():
        app = make_app(tmp_path)
        built(app)
        want = fingerprint(app.session.machine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("L")
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            await pilot.press("enter")                     # default.toml
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, LoadScreen)))
            assert fingerprint(app.session.machine) == want and "nothing loaded" in screen_text(app)
            await pilot.press("L", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert app.session.sandbox.position == 0 and "previous session saved to" in screen_text(app)
            saved = recovery.saved_sessions(tmp_path / "state")
            assert len(saved) == 1
            await pilot.press("L")                         # the saved session is first in the list
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            assert "saved session" in screen_text(app)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, LoadScreen))
            assert fingerprint(app.session.machine) == want and app.session.cursor == 2
    asyncio.run(go())


def test_the_load_dialog_reopens_a_saved_session_by_path(tmp_path):
    async def go():
        source = Session()
        source.play_lesson_step()
        path = recovery.save(source, tmp_path / "elsewhere", "load")
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("L")
            await wait_for(pilot, lambda: isinstance(app.screen, LoadScreen))
            await pilot.press("tab")
            app.focused.value = str(path)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, LoadScreen))
            assert fingerprint(app.session.machine) == fingerprint(source.machine)
            (tmp_path / "bad.json").write_text(json.dumps({"format": "vmemlab-trace", "version": 99}))
            await pilot.press("L", "tab")
            app.focused.value = str(tmp_path / "bad.json")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, LoadScreen)       # refused in the dialog, nothing asked
            assert "cannot load" in flat_text(app) and "version 99" in flat_text(app)
            await pilot.press("escape")
            assert fingerprint(app.session.machine) == fingerprint(source.machine)
    asyncio.run(go())


@pytest.mark.parametrize("key,suffix", [("e", ".json"), ("ctrl+s", ".svg")])
def test_exports_never_overwrite_an_earlier_file(key, suffix, tmp_path):
    async def go():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(key)
            await pilot.pause()
            first = sorted(tmp_path.glob(f"*{suffix}"))
            first_text = first[0].read_text()
            await pilot.press("plus", "u", key)       # same timeline position, other content
            await pilot.pause()
            files = {p.name: p for p in tmp_path.glob(f"*{suffix}")}
            assert sorted(files, key=len) == [first[0].name, first[0].stem + f"-2{suffix}"]
            assert first[0].read_text() == first_text
    asyncio.run(go())
