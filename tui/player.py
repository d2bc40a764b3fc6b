"""Play: how fast, and whether it waits at a lesson step. The app's timer does the work.

Play shows one device request per tick: a lesson step's action is applied, then its settle runs
one driver step per tick (``Work.run(steps=1)``). After each lesson step play holds, so a class
can read the narration, until ``n`` or a timeout of ``HOLD_TICKS`` ticks.
"""
from __future__ import annotations

from dataclasses import dataclass

SPEEDS = (2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02)      # seconds per tick, slowest first
HOLD_TICKS = 40                                       # 8 s at the default 0.2 s per tick


@dataclass
class Player:
    interval: float
    playing: bool = False
    hold_until: float | None = None     # monotonic time at which play goes on after a lesson step

    def change_speed(self, faster: bool) -> float:
        """The next speed in ``SPEEDS`` (from any interval); returns the new interval."""
        if faster:
            self.interval = next((s for s in SPEEDS if s < self.interval - 1e-9), SPEEDS[-1])
        else:
            self.interval = next((s for s in reversed(SPEEDS) if s > self.interval + 1e-9), SPEEDS[0])
        return self.interval

    @property
    def hold_seconds(self) -> float:
        return HOLD_TICKS * self.interval

    def speed_text(self) -> str:
        per_second = round(1 / self.interval)
        if per_second >= 1:
            return f"{per_second} request{'s' * (per_second != 1)}/s"
        return f"1 request every {self.interval:g} s"
