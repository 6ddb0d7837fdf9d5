"""The nominal baseline: solve the deterministic knapsack (ξ = 0) and select what it produces."""

from __future__ import annotations

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.knapsack_2ro.evaluation import Data, best_reaction, evaluate, repaired_selection, solution_dict
from solvers.knapsack_2ro.options import NominalOptions
from solvers.knapsack_2ro.schema import Instance
from solvers.runtime import Deadline


def nominal_selection(data: Data) -> np.typing.NDArray[np.bool_]:
    """The optimal selection when nothing degrades (ξ = 0).

    Then an item earns p̄ if produced, p̄ − f if selected but not produced, 0 if not selected. An item
    with p̄ > f is worth selecting anyway, and producing it adds only f; any other item adds p̄ by being
    produced (and is selected only then). So the produced set is the knapsack optimum of the values
    min(p̄, f), and the selection is that set plus every item with p̄ > f. (Knapsacking p̄ itself, as
    this did before issue 18, spends capacity on an item worth p̄ ≫ f that earns p̄ − f unproduced.)
    """
    everything = np.ones(data.n, dtype=np.bool_)
    value = np.minimum(data.profit, data.penalty)
    _, reaction = best_reaction(data, value, value, everything)
    return reaction.produce | (data.profit > data.penalty)


class NominalSolver:
    """Ignore the uncertainty when deciding, then certify the worst case of that decision exactly."""

    name = "nominal"
    Options = NominalOptions

    def solve(self, instance: Instance, options: NominalOptions, progress: Progress, cancel: Cancel) -> Result:
        """Select the nominal optimum and evaluate its worst case exactly (out of time: the repaired selection)."""
        deadline = Deadline(options.time_limit_s, cancel)
        data = Data.of(instance)
        selected = nominal_selection(data)
        worst = evaluate(data, selected, stop=deadline.should_stop)
        iterations, termination = worst.iterations, Termination.other
        if not worst.converged:  # no certified objective in time: a selection whose worst case is known
            selected, worst = repaired_selection(data)
            termination = deadline.termination()
        solution = solution_dict(data, selected, worst)
        progress.incumbent(worst.objective, solution)
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=worst.objective,
            bound=None,
            solution=solution,
            stats={
                "wall_time_s": deadline.elapsed(),
                "evaluation_iterations": iterations,
            },
        )
