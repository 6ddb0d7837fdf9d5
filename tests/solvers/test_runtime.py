"""The shared solver runtime: the deadline, the polled-cancel helpers and the improvement rules."""

from __future__ import annotations

import threading
import time

import pytest

from solvers.base import Termination
from solvers.runtime import Deadline, improves_bound, improves_incumbent, run_polling_cancel, stop_on_cancel


class Flag:
    """A cancel flag set by the test."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def is_set(self) -> bool:
        return self.event.is_set()


def test_a_deadline_reports_time_limit_once_its_time_has_passed() -> None:
    deadline = Deadline(0.05)
    assert deadline.stop_reason() is None and not deadline.should_stop()
    assert 0 < deadline.remaining() <= 0.05
    time.sleep(0.06)
    assert deadline.expired() and deadline.should_stop()
    assert deadline.stop_reason() is Termination.time_limit
    assert deadline.remaining() == 0.0 and deadline.elapsed() >= 0.05


def test_cancel_wins_over_the_time_limit() -> None:
    flag = Flag()
    deadline = Deadline(0.0, flag)
    assert deadline.stop_reason() is Termination.time_limit
    flag.event.set()
    assert deadline.stop_reason() is Termination.cancelled
    assert deadline.termination() is Termination.cancelled


def test_a_sub_budget_never_ends_after_its_parent_and_shares_its_cancel() -> None:
    flag = Flag()
    parent = Deadline(1.0, flag)
    assert parent.within(100.0).end <= parent.end
    short = parent.within(0.01)
    assert short.end < parent.end
    flag.event.set()
    assert short.cancelled()


def test_improvement_rules_follow_the_sense_and_ignore_infinite_bounds() -> None:
    assert improves_incumbent("minimize", 1.0, None)
    assert improves_incumbent("minimize", 1.0, 2.0) and not improves_incumbent("minimize", 2.0, 2.0)
    assert improves_incumbent("maximize", 3.0, 2.0) and not improves_incumbent("maximize", 1.0, 2.0)
    assert improves_bound("minimize", 1.0, 0.5) and not improves_bound("minimize", 0.5, 1.0)
    assert improves_bound("maximize", 0.5, 1.0) and not improves_bound("maximize", 1.0, 0.5)
    assert not improves_bound("minimize", float("inf"), None)


def test_run_polling_cancel_stops_the_solve_once_cancelled() -> None:
    flag = Flag()
    stopped = threading.Event()
    polls: list[float] = []
    threading.Timer(0.2, flag.event.set).start()

    def solve() -> str:
        assert stopped.wait(5.0), "stop was never called"
        return "stopped"

    value, cancelled = run_polling_cancel(solve, flag, stopped.set, on_poll=lambda: polls.append(1.0), poll_s=0.02)
    assert (value, cancelled) == ("stopped", True)
    assert polls


def test_run_polling_cancel_returns_the_value_and_reraises_the_error() -> None:
    assert run_polling_cancel(lambda: 42, Flag(), lambda: None) == (42, False)

    def broken() -> None:
        raise ValueError("native failure")

    with pytest.raises(ValueError, match="native failure"):
        run_polling_cancel(broken, Flag(), lambda: None)


def test_stop_on_cancel_calls_stop_while_the_block_blocks() -> None:
    flag = Flag()
    stopped = threading.Event()
    threading.Timer(0.1, flag.event.set).start()
    with stop_on_cancel(flag, stopped.set, poll_s=0.02):
        assert stopped.wait(5.0)
    quiet = threading.Event()
    with stop_on_cancel(Flag(), quiet.set, poll_s=0.02):
        time.sleep(0.05)
    assert not quiet.is_set()
