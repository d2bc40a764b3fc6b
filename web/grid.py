"""numpy helpers for drawing big per-block arrays: fold rows into display rows, find what changed.

A browser cannot show 32768 rows (a 4 TiB region of 128 MiB blocks), so the maps fold groups of
consecutive memory blocks into one display row, keeping the most advanced state (the highest
code) of each cell, as ``core.view.aggregate`` does for one dimension.
"""
from __future__ import annotations

import numpy as np

MAX_ROWS = 512


def blocks_per_row(n_blocks: int, max_rows: int = MAX_ROWS) -> int:
    """How many memory blocks share one display row."""
    return max(1, -(-n_blocks // max(1, max_rows)))


def fold_rows(cells: np.ndarray, per: int) -> np.ndarray:
    """Group ``per`` consecutive rows (axis 0) into one, keeping the highest code."""
    if per == 1:
        return cells
    pad = (-len(cells)) % per
    if pad:
        cells = np.concatenate((cells, np.zeros((pad,) + cells.shape[1:], dtype=cells.dtype)))
    return cells.reshape((-1, per) + cells.shape[1:]).max(axis=1)


def changed_rows(old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """Indices of rows (axis 0) that differ; every row if the shapes differ."""
    if old is None or old.shape != new.shape:
        return np.arange(len(new))
    diff = old != new
    return np.flatnonzero(diff.reshape(len(new), -1).any(axis=1)) if diff.ndim > 1 else np.flatnonzero(diff)


def runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as (start, stop) pairs: one patch per run."""
    if not len(indices):
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate(([0], breaks))
    stops = np.concatenate((breaks, [len(indices)]))
    return [(int(indices[a]), int(indices[b - 1]) + 1) for a, b in zip(starts, stops)]
