"""The nominal baseline: solve the deterministic knapsack (ξ = 0) and select what it produces."""

from __future__ import annotations

import time

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.knapsack_2ro.evaluation import Data, evaluate, second_stage, solution_dict
from solvers.knapsack_2ro.options import NominalOptions
from solvers.knapsack_2ro.schema import Instance


def nominal_selection(data: Data) -> np.typing.NDArray[np.bool_]:
    """x = y of the best reaction when nothing degrades and every item may be produced."""
    _, reaction = second_stage(data, np.ones(data.n, dtype=np.bool_), np.zeros(data.n))
    return reaction.produce


class NominalSolver:
    """Ignore the uncertainty when deciding, then certify the worst case of that decision exactly."""

    name = "nominal"
    exact = False
    learned = False
    Options = NominalOptions

    def solve(self, instance: Instance, options: NominalOptions, progress: Progress, cancel: Cancel) -> Result:
        """Select the nominal optimum and evaluate its worst case exactly."""
        started = time.perf_counter()
        deadline = started + options.time_limit_s
        data = Data.of(instance)
        selected = nominal_selection(data)
        worst = evaluate(data, selected, stop=lambda: cancel.is_set() or time.perf_counter() >= deadline)
        if not worst.converged:  # no certified objective in time
            return Result(
                status=SolutionStatus.no_solution,
                termination=Termination.cancelled if cancel.is_set() else Termination.time_limit,
                stats={"wall_time_s": time.perf_counter() - started, "evaluation_iterations": worst.iterations},
            )
        solution = solution_dict(data, selected, worst)
        progress.incumbent(worst.objective, solution)
        return Result(
            status=SolutionStatus.feasible,
            termination=Termination.other,
            objective=worst.objective,
            bound=None,
            solution=solution,
            stats={
                "wall_time_s": time.perf_counter() - started,
                "evaluation_iterations": worst.iterations,
            },
        )
