"""Widget rules: the map always fits (aggregating big regions), the block bitmap stays short."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tui_helpers import make_app, screen_text
from vmemlab.core.config import DeviceConfig, MachineConfig
from vmemlab.core.scenario import Scenario
from vmemlab.core.units import GiB, TiB
from vmemlab.core.view import Cell, Chunk
from vmemlab.tui.block_detail import MAX_ROWS, render_block
from vmemlab.tui.region_map import RegionMap


def four_tib() -> Scenario:
    config = MachineConfig(boot_memory=128 * GiB, devices=(DeviceConfig(region_size=4 * TiB),))
    return Scenario("4 TiB", "", config, [])


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_four_tib_map_fits_the_terminal_and_says_how_many_blocks_a_tile_holds(size):
    async def go():
        app = make_app(scenario=four_tib())
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            region_map = app.query_one(RegionMap)
            assert len(region_map.cells) == 32768
            assert 0 < len(region_map._strips) <= region_map.content_size.height
            assert region_map.per > 1 and region_map.per & (region_map.per - 1) == 0
            assert all(s.cell_length <= region_map.content_size.width for s in region_map._strips)
            assert f"1 tile = {region_map.per} memory blocks" in screen_text(app)
            await pilot.press("G")
            await pilot.pause()
            assert app.selected == 32767 and "block memory" in screen_text(app)
    asyncio.run(go())


def test_aggregated_tile_shows_the_most_advanced_state():
    async def go():
        app = make_app(scenario=four_tib())
        app.session.do("request", size="2G")
        app.session.do("settle")
        app.session.do("note", text="the last change touches no block: tiles show states, not marks")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            region_map = app.query_one(RegionMap)
            row = region_map._strips[0].text.split(maxsplit=1)[1]
            assert row.replace("◂", " ").split()[0] == "K"        # 16 online blocks in the first tile
            assert np.count_nonzero(region_map.cells == Cell.KERNEL) == 16
    asyncio.run(go())


def _info(n: int, unmovable_at: int) -> dict:
    cells = np.full(n, Chunk.MOVABLE, dtype=np.uint8)
    cells[unmovable_at] = Chunk.UNMOVABLE
    zeros = np.zeros(n, dtype=np.int64)
    return {"name": "memory32", "range": "0x0-0x1", "sysfs_state": "online", "zone": "Movable",
            "driver_state": "MOVABLE", "plugged": n * (2 << 20), "size": n * (2 << 20), "memmap": 1 << 25,
            "free_pages": 0, "movable_pages": 512 * n, "unmovable_pages": 1, "cells": cells,
            "free_per_chunk": zeros, "movable_per_chunk": zeros + 512, "unmovable_per_chunk": zeros}


def test_a_2g_block_bitmap_groups_subblocks_and_keeps_the_unmovable_one_visible():
    text = render_block(_info(1024, 700), 140, "subblock").plain
    rows = [line for line in text.splitlines() if line.startswith("sb")]
    assert 0 < len(rows) <= MAX_ROWS
    assert text.count("■") == 2                 # one in the bitmap, one in the legend
    assert "(1024/1024 subblocks)" in text


def test_a_128m_block_shows_every_subblock():
    text = render_block(_info(64, 3), 140, "subblock").plain
    bitmap = next(line for line in text.splitlines() if line.startswith("sb"))
    assert bitmap.split(maxsplit=2)[2].replace(" ", "") == "▤▤▤■" + "▤" * 60


def test_event_rows_end_with_an_ellipsis_at_a_word_boundary():
    from vmemlab.core.events import Event, Kind
    from vmemlab.tui.event_log import column_widths, row_text

    e = Event(Kind.FAKE_OFFLINE_FAILED, "memory38 onlined by auto_online_blocks to ZONE_MOVABLE because", 1.0,
              memory_block=38)
    widths = column_widths(60)
    row = row_text(e, widths).plain
    assert len(row) <= 60 and "fake_offline…" in row
    text = row.split("fake_offline…", 1)[1].strip()
    assert text.endswith("…") and e.text.startswith(text[:-1]) and e.text[len(text) - 1] == " "
    wide = row_text(e, column_widths(140)).plain
    assert "fake_offline_failed" in wide and e.text in wide


def test_help_explains_every_glyph_as_the_legends_draw_it():
    """Every glyph of the map legend, the change marks and the bitmap legend is in F1's help
    with the legend's own label (one source: tui.style), the keys shown as people write them."""
    from vmemlab.tui.style import chunk_legend_entries, map_legend_entries

    async def go():
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f1")
            await pilot.pause()
            text = app.screen.markdown
            for glyph, _, label in map_legend_entries() + chunk_legend_entries():
                assert f"| `{glyph}` | {label} |" in text
            assert "╌" in text and "| `F1` / `?` | ui: help |" in text and "question_mark" not in text
            assert "one device\n  request per tick" in text or "one device request per tick" in " ".join(text.split())
    asyncio.run(go())


def test_every_event_kind_but_the_routine_ones_has_its_own_colour():
    """A new kind of event (a crash, a refused suspend) must not pass unnoticed in routine grey."""
    from vmemlab.core.events import Kind
    from vmemlab.tui.event_log import KIND_COLOUR, PLAIN_KINDS
    assert set(KIND_COLOUR) | PLAIN_KINDS == set(Kind) and not set(KIND_COLOUR) & PLAIN_KINDS
