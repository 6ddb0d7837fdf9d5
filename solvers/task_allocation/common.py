"""Helpers shared by the ``task_allocation`` solvers: deadlines and cancellation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from solvers.base import Cancel


@dataclass
class StopWatch:
    """Tells a solver loop when its time limit has passed or the job was cancelled."""

    time_limit_s: float
    cancel: Cancel
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        """Seconds since the solve started."""
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left before the time limit (never negative)."""
        return max(0.0, self.time_limit_s - self.elapsed())

    def cancelled(self) -> bool:
        """True once the job was cancelled."""
        return self.cancel.is_set()

    def should_stop(self) -> bool:
        """True when out of time or cancelled."""
        return self.remaining() <= 0 or self.cancelled()
