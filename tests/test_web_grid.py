"""web.grid: folding block rows for display and finding the rows that changed."""
import numpy as np

from vmemlab.web import grid


def test_blocks_per_row_fits_4tib_into_max_rows():
    """32768 memory blocks (4 TiB of 128 MiB) fold 64 to a row, 512 rows."""
    assert grid.blocks_per_row(32768) == 64
    assert grid.blocks_per_row(32) == 1
    assert grid.blocks_per_row(513, 512) == 2


def test_fold_rows_keeps_the_highest_code_and_pads():
    cells = np.array([[0, 1], [2, 0], [1, 1]], dtype=np.uint8)
    assert fold_eq(grid.fold_rows(cells, 2), [[2, 1], [1, 1]])
    assert grid.fold_rows(cells, 1) is cells


def test_changed_rows_and_runs():
    old = np.zeros((6, 3), dtype=np.uint8)
    new = old.copy()
    new[1, 0] = new[2, 2] = new[5, 1] = 1
    rows = grid.changed_rows(old, new)
    assert rows.tolist() == [1, 2, 5]
    assert grid.runs(rows) == [(1, 3), (5, 6)]
    assert grid.changed_rows(None, new).tolist() == list(range(6))
    assert grid.runs(np.array([], dtype=int)) == []


def fold_eq(a, b) -> bool:
    return np.array_equal(a, np.array(b))
