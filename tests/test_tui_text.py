"""Text rules of the TUI: plurals and word-boundary ellipses."""
from __future__ import annotations

import pytest

from vmemlab.tui.text import plural, shorten


def test_plural():
    assert [plural(n, "event") for n in (0, 1, 2)] == ["0 events", "1 event", "2 events"]


@pytest.mark.parametrize("text,width,boundaries,want", [
    ("short", 10, "", "short"),
    ("memory38 onlined by auto_online_blocks to ZONE_MOVABLE", 30, "", "memory38 onlined by…"),
    ("fake_offline_failed", 13, "_", "fake_offline…"),
    ("PLUG device blocks 448-511 (memory39)", 27, "", "PLUG device blocks 448-511…"),
    ("PLUG device blocks 448-511 (memory39)", 25, "", "PLUG device blocks…"),
    ("abcdefghijklmnopqrstuvwxyz", 10, "", "abcdefghi…"),
])
def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis(text, width, boundaries, want):
    got = shorten(text, width, boundaries)
    assert got == want and len(got) <= width
