"""The solver runtime every kind shares: one deadline, the polled-cancel loop, the improvement rules.

* :class:`Deadline` is a solve's time limit and cancel flag in one object: a solver loop asks
  :meth:`Deadline.stop_reason` (or :meth:`Deadline.should_stop`) between steps, and hands
  :meth:`Deadline.remaining` to a native back-end as its own limit.
* :func:`run_polling_cancel` runs a blocking native solve in a thread and calls the back-end's own stop
  once the job is cancelled; :func:`stop_on_cancel` does the same around code that blocks in the calling
  thread.
* :func:`improves_incumbent` and :func:`improves_bound` are the one definition of "better" used to decide
  what is reported through :class:`~solvers.base.Progress`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from solvers.base import Cancel, NeverCancel, Sense, Termination

#: How often the polled-cancel helpers look at the cancel flag (the contract asks for about a second).
CANCEL_POLL_S = 0.1


class Deadline:
    """A solve's time limit and cancel flag: started now, ending ``time_limit_s`` seconds later.

    Time is read from :func:`time.monotonic`; a deadline is reached when the clock is at or past its end.
    """

    def __init__(self, time_limit_s: float, cancel: Cancel | None = None, started: float | None = None) -> None:
        self.started = time.monotonic() if started is None else started
        self.time_limit_s = time_limit_s
        self.end = self.started + time_limit_s
        self.cancel: Cancel = cancel if cancel is not None else NeverCancel()

    def within(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, never later than this one, sharing its cancel flag."""
        now = time.monotonic()
        return Deadline(min(seconds, self.end - now), self.cancel, started=now)

    def elapsed(self) -> float:
        """Seconds since the solve started."""
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left before the time limit (never negative)."""
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        """True once the time limit has passed."""
        return time.monotonic() >= self.end

    def cancelled(self) -> bool:
        """True once the job was cancelled."""
        return self.cancel.is_set()

    def should_stop(self) -> bool:
        """True when cancelled or out of time."""
        return self.cancelled() or self.expired()

    def stop_reason(self) -> Termination | None:
        """``cancelled`` or ``time_limit`` when the solve must stop now (cancel first), else None."""
        if self.cancelled():
            return Termination.cancelled
        if self.expired():
            return Termination.time_limit
        return None

    def termination(self) -> Termination:
        """Why a solve that was stopped early stopped: ``cancelled`` if the flag is set, else ``time_limit``."""
        return Termination.cancelled if self.cancelled() else Termination.time_limit


def improves_incumbent(sense: Sense, new: float, old: float | None) -> bool:
    """True when objective ``new`` is strictly better than ``old`` (None: nothing yet)."""
    if old is None:
        return True
    return new < old if sense == "minimize" else new > old


def improves_bound(sense: Sense, new: float, old: float | None) -> bool:
    """True when the proven bound ``new`` is finite and strictly tighter than ``old`` (None: nothing yet)."""
    if not math.isfinite(new):
        return False
    if old is None:
        return True
    return new > old if sense == "minimize" else new < old


def run_polling_cancel(
    solve: Callable[[], Any],
    cancel: Cancel,
    stop: Callable[[], None],
    on_poll: Callable[[], None] | None = None,
    poll_s: float = CANCEL_POLL_S,
) -> tuple[Any, bool]:
    """Run a blocking native solve in a thread; call ``on_poll`` every ``poll_s`` and ``stop`` once cancelled.

    Returns (the solve's return value, whether it was cancelled); re-raises the solve's exception here, so
    ``on_poll`` (e.g. relaying progress queued by the solver's callbacks) runs in the calling thread only.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = solve()
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="native-solve", daemon=True)
    thread.start()
    cancelled = False
    while thread.is_alive():
        thread.join(poll_s)
        if on_poll is not None:
            on_poll()
        if not cancelled and cancel.is_set():
            cancelled = True
            stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value"), cancelled


@contextmanager
def stop_on_cancel(cancel: Cancel, stop: Callable[[], None], poll_s: float = CANCEL_POLL_S) -> Iterator[None]:
    """While the block runs (blocking in this thread), a daemon thread calls ``stop`` once cancel is set."""
    finished = threading.Event()

    def poll() -> None:
        while not finished.wait(poll_s):
            if cancel.is_set():
                stop()
                return

    threading.Thread(target=poll, name="cancel-poll", daemon=True).start()
    try:
        yield
    finally:
        finished.set()
