"""Compact snapshots for time travel: a machine frozen piece by piece.

A snapshot used to be a deep copy, so a 4 TiB machine cost 37 MiB per snapshot and a 64 TiB
one (600 MiB) could not be kept at all: going back replayed from boot. Most of a machine's
bytes are its per-chunk arrays, and between two snapshots a change touches only part of them
(an allocation changes one row of the page counts, a plug only the region it plugged), and
much of a big region is all zeros. So a frozen machine keeps its per-chunk arrays as 256 KiB
pieces: a piece equal to the same piece of the previous snapshot is shared with it, an all-zero
piece is not stored at all. The rest of the machine (drivers, zones, small arrays) is a deep
copy. A frozen machine is never changed; ``thaw`` builds a live machine from it, each time anew
(all-zero pieces become untouched zero pages, which cost no memory until written).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .machine import Machine

PIECE = 256 << 10
_ZERO = bytes(PIECE)


class _Hole:
    """Stands in for a per-chunk array inside the frozen deep copy."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class FrozenMachine:
    """An immutable, compact copy of a Machine (see the module docstring)."""

    def __init__(self, machine: Machine, previous: FrozenMachine | None = None):
        arrays = machine.chunk_arrays()
        self.layout = [(a.dtype, a.shape) for a in arrays]
        self.holes = [_Hole(i) for i in range(len(arrays))]
        memo = machine.snapshot_memo()
        memo.update({id(a): hole for a, hole in zip(arrays, self.holes)})
        pending, machine.pending = machine.pending, []
        try:
            self.rest = copy.deepcopy(machine, memo)
        finally:
            machine.pending = pending
        before = previous.pieces if previous is not None and previous.layout == self.layout else None
        self.pieces: list[list[bytes | None]] = [
            self._split(a, before[i] if before is not None else None) for i, a in enumerate(arrays)]

    @staticmethod
    def _split(array: np.ndarray, before: list[bytes | None] | None) -> list[bytes | None]:
        raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        out: list[bytes | None] = []
        for k, start in enumerate(range(0, len(raw), PIECE)):
            piece = raw[start:start + PIECE].tobytes()
            old = before[k] if before is not None else None
            if old is not None and old == piece:
                out.append(old)                       # unchanged since the previous snapshot: shared
            elif piece == _ZERO[:len(piece)]:
                out.append(None)
            else:
                out.append(piece)
        return out

    def thaw(self) -> Machine:
        """A live machine equal to the one frozen (independent of it and of other thaws)."""
        memo: dict[int, object] = {}
        for hole, (dtype, shape), pieces in zip(self.holes, self.layout, self.pieces):
            array = np.zeros(shape, dtype=dtype)
            raw = array.reshape(-1).view(np.uint8)
            for k, piece in enumerate(pieces):
                if piece is not None:
                    raw[k * PIECE:k * PIECE + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
            memo[id(hole)] = array
        return copy.deepcopy(self.rest, memo)

    def stored(self) -> dict[int, int]:
        """The pieces this snapshot holds (id -> bytes); shared pieces appear in several snapshots."""
        return {id(p): len(p) for pieces in self.pieces for p in pieces if p is not None}


def stored_bytes(snapshots) -> int:
    """Bytes the pieces of all ``snapshots`` take together (each shared piece counted once)."""
    held: dict[int, int] = {}
    for snap in snapshots:
        held.update(snap.stored())
    return sum(held.values())
