"""HiGHS's own log reaches the job as bounded log messages, never the console."""

from __future__ import annotations

from typing import Any

from solvers.base import NeverCancel, NullProgress
from solvers.milp import KIND
from solvers.milp.highs import LOG_LINES, LOG_MESSAGE_CHARS, LogRelay
from solvers.milp.options import HighsOptions


def test_the_solver_log_is_relayed_in_order_and_ends_with_the_outcome(load_dev: Any, capfd: Any) -> None:
    progress = NullProgress()
    KIND.solvers["highs"].load().solve(load_dev("flugpl"), HighsOptions(), progress, NeverCancel())
    text = "\n".join(progress.lines)
    assert text.index("Presolving model") < text.index("Solving report") < text.index("highs stopped: optimal")
    assert all(len(message) <= LOG_MESSAGE_CHARS for message in progress.lines)
    assert "Solving report" not in capfd.readouterr().out


class _Message:
    def __init__(self, message: str) -> None:
        self.message = message


def test_a_long_log_is_cut_at_its_bound_and_says_so() -> None:
    progress = NullProgress()
    relay = LogRelay(progress)
    for batch in range(3):
        for i in range(LOG_LINES):
            relay.collect(_Message(f"line {batch}-{i} {'x' * 50}\n"))
        relay.flush()
    lines = "\n".join(progress.lines).splitlines()
    assert len(lines) == LOG_LINES and lines[-1] == f"(log cut at {LOG_LINES} lines)"
    assert all(len(message) <= LOG_MESSAGE_CHARS for message in progress.lines)
