"""The neur2ro solver: certified solutions, never worse than nominal or its own learned loop, proofs from
its search phase, limits and cancellation."""

from __future__ import annotations

import json
import time

import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.knapsack_2ro import KIND
from solvers.knapsack_2ro.exact import BranchAndPriceSolver
from solvers.knapsack_2ro.generate import Correlation, generate
from solvers.knapsack_2ro.learned.data import FRESH_EVALUATION_SEEDS
from solvers.knapsack_2ro.learned.options import Neur2roOptions
from solvers.knapsack_2ro.learned.solver import Neur2roSolver
from solvers.knapsack_2ro.nominal import NominalSolver
from solvers.knapsack_2ro.options import ExactOptions, NominalOptions
from solvers.knapsack_2ro.schema import parse
from tests.solvers.knapsack_2ro.helpers import SetAfter, small_instance


@pytest.fixture(scope="module")
def solver() -> Neur2roSolver:
    """One solver (the committed weights are read once)."""
    return Neur2roSolver()


@pytest.mark.parametrize("seed", range(2))
def test_solution_passes_check_and_is_no_worse_than_nominal(
    solver: Neur2roSolver, seed: int, correlation: Correlation
) -> None:
    instance = small_instance(seed, n=8, correlation=correlation)
    progress = NullProgress()
    result = solver.solve(instance, Neur2roOptions(time_limit_s=1.5, max_iterations=8), progress, NeverCancel())
    assert result.status in (SolutionStatus.feasible, SolutionStatus.optimal) and result.objective is not None
    assert result.objective >= result.stats["learned_objective"] - 1e-9  # the search never loses the loop's best
    assert result.solution is not None
    json.dumps(result.solution)  # plain JSON types only
    verdict = KIND.check(instance, result.solution)
    assert verdict.feasible, verdict.message
    assert verdict.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-9)
    assert progress.incumbents and progress.incumbents[-1] == result.objective
    assert progress.incumbents == sorted(progress.incumbents)
    nominal = NominalSolver().solve(instance, NominalOptions(), NullProgress(), NeverCancel())
    assert nominal.objective is not None and result.objective >= nominal.objective - 1e-9


def test_published_size_instance_within_time_limit(solver: Neur2roSolver) -> None:
    raw = generate(FRESH_EVALUATION_SEEDS[0], n=40, correlation="WC", h=40, budget_factor=0.1)
    instance = parse(raw)
    started = time.perf_counter()
    result = solver.solve(instance, Neur2roOptions(time_limit_s=2.0), NullProgress(), NeverCancel())
    elapsed = time.perf_counter() - started
    assert result.termination in (Termination.time_limit, Termination.other, Termination.iteration_limit)
    assert elapsed < 2.0 + 3.0  # generous: the machine is shared
    assert KIND.check(instance, result.solution or {}).feasible


def test_cancel_keeps_the_best_certified_selection(solver: Neur2roSolver) -> None:
    instance = parse(generate(FRESH_EVALUATION_SEEDS[1], n=30, correlation="UN"))
    result = solver.solve(instance, Neur2roOptions(time_limit_s=60), NullProgress(), SetAfter(3))
    assert result.termination is Termination.cancelled
    assert result.status is SolutionStatus.feasible
    assert KIND.check(instance, result.solution or {}).feasible


def test_cancel_before_anything_is_certified(solver: Neur2roSolver) -> None:
    instance = parse(generate(FRESH_EVALUATION_SEEDS[2], n=60, correlation="UN", h=80, delta=1.0))
    result = solver.solve(instance, Neur2roOptions(time_limit_s=60), NullProgress(), SetAfter(0))
    assert result.termination is Termination.cancelled
    assert result.status is SolutionStatus.feasible and result.solution is not None
    assert KIND.check(instance, result.solution).feasible


def test_iteration_limit(solver: Neur2roSolver) -> None:
    instance = small_instance(5, n=10, correlation="SC")
    options = Neur2roOptions(max_iterations=1, learned_share=1.0)
    result = solver.solve(instance, options, NullProgress(), NeverCancel())
    assert result.stats["main_problems"] <= 1
    assert result.termination in (Termination.iteration_limit, Termination.other)
    assert result.bound is None and "search_nodes" not in result.stats  # a share of 1: no search phase


@pytest.mark.parametrize("seed", range(3))
def test_the_search_phase_proves_the_optimum_that_exact_finds(solver: Neur2roSolver, seed: int) -> None:
    instance = small_instance(seed, n=10, correlation="WC")
    progress = NullProgress()
    result = solver.solve(instance, Neur2roOptions(time_limit_s=30, rel_gap=0), progress, NeverCancel())
    exact = BranchAndPriceSolver().solve(
        instance, ExactOptions(time_limit_s=30, rel_gap=0), NullProgress(), NeverCancel()
    )
    assert exact.status is SolutionStatus.optimal and exact.objective is not None
    assert result.status is SolutionStatus.optimal and result.termination is Termination.optimal
    assert result.objective == pytest.approx(exact.objective, rel=1e-9)
    assert result.bound == pytest.approx(exact.objective, rel=1e-6) and result.objective is not None
    assert result.stats["search_nodes"] >= 1 and result.stats["learned_objective"] <= result.objective + 1e-9
    assert progress.incumbents[-1] == result.objective and progress.bounds[-1] == pytest.approx(result.bound)
    verdict = KIND.check(instance, result.solution or {})
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-9)
