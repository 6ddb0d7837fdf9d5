"""The learned solver: feasible, never above the optimum, limits and cancellation, size independence."""

from __future__ import annotations

import time

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.task_allocation import KIND
from solvers.task_allocation.generate import generate, planted_instance
from solvers.task_allocation.learned.data import EVALUATION_SEEDS, recipe
from solvers.task_allocation.learned.network import Policy, features
from solvers.task_allocation.learned.options import LearnedOptions
from solvers.task_allocation.learned.solver import LearnedSolver
from tests.solvers.task_allocation.helpers import CancelAfter, brute_force_optimum, tiny_raw


@pytest.fixture(scope="module")
def solver() -> LearnedSolver:
    """One solver (the committed weights are read once)."""
    return LearnedSolver()


@pytest.mark.parametrize("seed", range(6))
def test_tiny_instances_feasible_and_never_above_the_optimum(solver: LearnedSolver, seed: int) -> None:
    instance = KIND.parse(tiny_raw(seed))
    progress = NullProgress()
    result = solver.solve(instance, LearnedOptions(), progress, NeverCancel())
    assert result.status is SolutionStatus.feasible and result.solution is not None
    verdict = KIND.check(instance, result.solution)
    assert verdict.feasible, verdict.message
    assert verdict.objective == pytest.approx(result.objective, abs=1e-9)
    assert result.objective is not None and result.objective <= brute_force_optimum(instance) + 1e-9
    assert progress.incumbents == sorted(progress.incumbents) and progress.incumbents[-1] == result.objective


def test_held_out_instance_checked_and_reproducible_by_seed(solver: LearnedSolver) -> None:
    instance = recipe(EVALUATION_SEEDS[0]).instance()
    first = solver.solve(instance, LearnedOptions(seed=5), NullProgress(), NeverCancel())
    second = solver.solve(instance, LearnedOptions(seed=5), NullProgress(), NeverCancel())
    assert KIND.check(instance, first.solution or {}).feasible
    assert first.solution == second.solution and first.objective == second.objective


def test_reaching_the_fractional_bound_stops_the_search(solver: LearnedSolver) -> None:
    # one capability: the cheapest fractional cover is the planted price, so the bound is the optimum
    raw, optimum = planted_instance(0, n_agents=12, n_tasks=3, n_capabilities=1)
    options = LearnedOptions(anneal_chains=10_000, improvement_steps=10_000, stall_steps=10_000)
    result = solver.solve(KIND.parse(raw), options, NullProgress(), NeverCancel())
    assert result.objective == pytest.approx(optimum)
    assert result.stats["anneal_chains"] < 10_000 and result.stats["improvement_steps"] == 0


def test_policy_runs_on_instances_larger_than_any_training_instance(solver: LearnedSolver) -> None:
    instance = KIND.parse(generate(1, n_agents=300, n_tasks=60, n_capabilities=6))
    pair_logit, none_logit = Policy.load().logits(features(instance))
    assert pair_logit.shape == (300, 60) and none_logit.shape == (300,)
    assert np.all(np.isfinite(none_logit))
    assert np.all((pair_logit > -1e8).sum(axis=1) <= 16)  # at most 16 candidate tasks per agent
    started = time.monotonic()
    result = solver.solve(instance, LearnedOptions(time_limit_s=2.0), NullProgress(), NeverCancel())
    assert time.monotonic() - started < 2.0 + 2.0
    assert KIND.check(instance, result.solution or {}).feasible


def test_cancel_during_search_keeps_the_best_allocation(solver: LearnedSolver) -> None:
    instance = KIND.parse(generate(2, n_agents=200, n_tasks=50))
    started = time.monotonic()
    options = LearnedOptions(time_limit_s=60, anneal_chains=100_000, anneal_moves_per_agent=100_000)
    result = solver.solve(instance, options, NullProgress(), CancelAfter(0.3))
    assert time.monotonic() - started < 3.0  # stopped long before 100,000 chains of 2·10⁷ moves would end
    assert result.termination is Termination.cancelled
    assert result.objective is not None and result.objective > 0
    assert KIND.check(instance, result.solution or {}).feasible


def test_neighbourhoods_expand_until_the_whole_instance_is_solved(solver: LearnedSolver) -> None:
    # with one task per agent and no other search (the policy's argmax only), only the doubling neighbourhoods
    # can reach the optimum
    from solvers.task_allocation.exact import ExactSolver
    from solvers.task_allocation.options import ExactOptions

    options = LearnedOptions(anneal_chains=0, improvement_steps=0, neighbourhood_top_k=1, neighbourhood_time_limit_s=60)
    expanded = 0
    for seed in range(30_099_990, 30_099_996):
        instance = recipe(seed).instance()
        optimum = ExactSolver().solve(instance, ExactOptions(), NullProgress(), NeverCancel())
        assert optimum.status is SolutionStatus.optimal
        result = solver.solve(instance, options, NullProgress(), NeverCancel())
        assert result.objective == pytest.approx(optimum.objective, rel=1e-9, abs=1e-9), seed
        expanded += result.stats["neighbourhoods"] > 1
    assert expanded > 0
