"""core.view: what the views show is computed once, here."""
from __future__ import annotations

from vmemlab.core import view
from vmemlab.core.session import Session


def test_marks_show_what_the_last_change_did_to_each_block():
    s = Session()
    s.play_lesson_step()                                    # the tour plugs 1 GiB: 8 new blocks
    marks = view.block_marks(s.machine, 0, s.sandbox.last_events())
    assert (marks[:8] == view.Mark.ADDED).all() and not marks[8:].any()
    for _ in range(3):
        s.play_lesson_step()                                # ... down to 300M: blocks drain and go
    marks = view.block_marks(s.machine, 0, s.sandbox.last_events())
    assert (marks[3:8] == view.Mark.REMOVED).all()
    assert marks[2] == view.Mark.OFFLINED and not marks[:2].any()
    assert set(view.MARK_STYLE) == set(view.Mark) - {view.Mark.NONE}


def test_status_bar_marks_the_numbers_the_last_change_moved():
    s = Session()
    s.play_lesson_step()
    items = {i.key: i for i in view.status_bar(s.machine, 0, s.sandbox.metrics_history()[-2],
                                               s.sandbox.last_events())}
    assert items["requested"].value == "1G" and items["requested"].changed
    assert items["plugged"].value == "1G" and items["memmap"].changed
    assert not items["driver"].changed and items["retry"].value == "not armed"
    s.apply(s.sandbox.changes()[0].action)                  # the same request again: nothing moves
    items = {i.key: i for i in view.status_bar(s.machine, 0, s.sandbox.metrics_history()[-2],
                                               s.sandbox.last_events())}
    assert not any(i.changed for i in items.values())


def test_compare_maps_are_the_comparison_and_a_picture_per_technique_and_step():
    from vmemlab.core.compare import compare_session
    s = Session()
    for _ in range(4):
        s.play_lesson_step()                                # up to 1G, then back to 300M
    c, maps = view.compare_maps(s, rows=32)
    assert c.to_dict() == compare_session(s).to_dict()
    assert set(maps) == {"virtio_mem", "balloon", "dimm"} and all(m.shape == (32, 5) for m in maps.values())
    usable = {k: (m == view.Guest.USABLE).sum(axis=0) for k, m in maps.items()}
    assert usable["virtio_mem"][1] > usable["virtio_mem"][0] > 0         # plugged 1 GiB: more usable rows
    assert (maps["balloon"][:, 0] != view.Guest.ABSENT).all()          # the balloon VM boots with it all
    assert usable["balloon"][4] < usable["virtio_mem"][4]              # a thin balloon spoils many chunks


def test_a_group_shows_the_mark_of_the_blocks_it_shows():
    import numpy as np

    cells = np.array([view.Cell.MOVABLE] * 6 + [view.Cell.UNUSED] * 2 + [view.Cell.UNUSED] * 8, dtype=np.uint8)
    marks = np.array([0] * 6 + [view.Mark.REMOVED] * 2 + [view.Mark.REMOVED] * 8, dtype=np.uint8)
    groups, per = view.aggregate(cells, 2)
    assert per == 8 and groups.tolist() == [view.Cell.MOVABLE, view.Cell.UNUSED]
    # group 0 shows "online movable": its 2 removed blocks are not what it shows
    assert view.aggregate_marks(cells, marks, per).tolist() == [0, view.Mark.REMOVED]
    marks[0] = view.Mark.PLUGGED
    assert view.aggregate_marks(cells, marks, per).tolist() == [view.Mark.PLUGGED, view.Mark.REMOVED]
    assert view.aggregate_marks(cells, marks, 1) is marks
