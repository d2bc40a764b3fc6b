"""The map's colours (core.view palettes) read on a washed-out projector and for the colour-blind,
and colour is never the only cue: every state has its own glyph, every mark its own pattern."""
from __future__ import annotations

import numpy as np

from vmemlab.core import view
from vmemlab.web.region_map import MARK_HATCH

# Machado, Oliveira & Fernandes (2009), deuteranopia at full severity, on linear RGB.
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968],
                         [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])


def linear(colour: str) -> np.ndarray:
    c = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def contrast(a: np.ndarray, b: np.ndarray) -> float:
    """WCAG contrast ratio of two linear-RGB colours."""
    la, lb = sorted((float(x @ [0.2126, 0.7152, 0.0722]) for x in (a, b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def deuteranope(colour: str) -> np.ndarray:
    return np.clip(DEUTERANOPIA @ linear(colour), 0, 1)


C, K = view.CHUNK_STYLE, view.CELL_STYLE


def test_not_added_and_unplugged_differ_by_3_to_1():
    a, b = C[view.Chunk.ABSENT].colour, C[view.Chunk.UNPLUGGED].colour
    assert contrast(linear(a), linear(b)) >= 3.0
    assert contrast(deuteranope(a), deuteranope(b)) >= 3.0


def test_plugged_offline_and_online_unmovable_differ_for_deuteranopes():
    a, b = C[view.Chunk.OFFLINE].colour, C[view.Chunk.UNMOVABLE].colour
    assert contrast(linear(a), linear(b)) >= 3.0
    assert contrast(deuteranope(a), deuteranope(b)) >= 3.0


def test_unmovable_pages_stand_out_among_movable_and_free_ones_for_deuteranopes():
    # neighbours inside a fragmented block; deuteranopes keep the blue-yellow axis: a distance
    # in simulated sRGB of at least 0.4 (of 1.73) on top of the glyphs
    for other in (view.Chunk.MOVABLE, view.Chunk.FREE):
        d = np.linalg.norm(deuteranope(C[view.Chunk.UNMOVABLE].colour) ** (1 / 2.2)
                           - deuteranope(C[other].colour) ** (1 / 2.2))
        assert d >= 0.4, (other, d)


def test_one_meaning_per_colour_across_the_strip_and_subblock_legends():
    same_meaning = {("#ffffff", "no memory block"), ("#e69f00", "offline")}
    meanings: dict[str, set[str]] = {}
    for style in list(C.values()) + list(K.values()):
        meanings.setdefault(style.colour.lower(), set()).add(style.label)
    shared = {colour for colour, labels in meanings.items() if len(labels) > 1}
    assert shared == {c for c, _m in same_meaning}
    assert all("offline" in label for label in meanings["#e69f00"])
    assert all("not" in label for label in meanings["#ffffff"])           # "not added", "not plugged"
    marks = {s.colour.lower() for s in view.MARK_STYLE.values()}
    assert not marks & set(meanings)                                       # marks have colours of their own


def test_colour_is_never_the_only_cue():
    for styles in (C, K, view.MARK_STYLE):
        glyphs = [s.glyph for s in styles.values()]
        assert len(set(glyphs)) == len(glyphs)
    assert len(set(MARK_HATCH.values())) == len(MARK_HATCH) == len(view.MARK_STYLE)
