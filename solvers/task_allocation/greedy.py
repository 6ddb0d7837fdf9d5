"""The ``greedy`` solver: ratio-greedy coalitions per task, best task committed first."""

from __future__ import annotations

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.task_allocation.allocation import UNASSIGNED, CoalitionBuilder, greedy_fill, profit, to_solution
from solvers.task_allocation.options import GreedyOptions
from solvers.task_allocation.schema import Instance


class GreedySolver:
    """One greedy pass per selection rule; keeps the most profitable allocation."""

    name = "greedy"
    Options = GreedyOptions

    def solve(self, instance: Instance, options: GreedyOptions, progress: Progress, cancel: Cancel) -> Result:
        """Run each rule's greedy pass until done, out of time or cancelled."""
        deadline = Deadline(options.time_limit_s, cancel)
        builder = CoalitionBuilder(instance)
        best = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
        best_profit = profit(instance, best)
        progress.incumbent(best_profit, to_solution(instance, best))
        passes = 0
        for rule in options.rules:
            if deadline.should_stop():
                break
            allocation = greedy_fill(
                builder,
                np.full(instance.n_agents, UNASSIGNED, dtype=np.int64),
                rule,
                should_stop=deadline.should_stop,
            )
            passes += 1
            value = profit(instance, allocation)
            if value > best_profit:
                best, best_profit = allocation, value
                progress.incumbent(best_profit, to_solution(instance, best))
        if deadline.cancelled():
            termination = Termination.cancelled
        elif passes < len(options.rules) or deadline.remaining() <= 0:
            termination = Termination.time_limit
        else:
            termination = Termination.other
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=best_profit,
            bound=None,
            solution=to_solution(instance, best),
            stats={"wall_time_s": deadline.elapsed(), "passes": passes},
        )
