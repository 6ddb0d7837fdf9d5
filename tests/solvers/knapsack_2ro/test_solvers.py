"""The exact and nominal solvers: optimality against enumeration and the published optima, limits, cancel."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import highspy
import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.knapsack_2ro import KIND
from solvers.knapsack_2ro import exact as exact_module
from solvers.knapsack_2ro.check import check, worst_case_value
from solvers.knapsack_2ro.evaluation import (
    Data,
    evaluate,
    first_stage_profit,
    new_lp,
    repaired_selection,
    second_stage,
)
from solvers.knapsack_2ro.exact import BranchAndPriceSolver
from solvers.knapsack_2ro.generate import Correlation, generate
from solvers.knapsack_2ro.nominal import NominalSolver, nominal_selection
from solvers.knapsack_2ro.options import ExactOptions, NominalOptions
from solvers.knapsack_2ro.schema import parse
from tests.solvers.knapsack_2ro.helpers import SetAfter, all_binary, published, published_reference, small_instance

#: The copied n = 20 instances (the n = 50 one serves the numerical-trouble regression only).
N20 = sorted(name for name in published_reference() if "_n20_" in name)


def six_digit_tolerance(value: float) -> float:
    """The CSV prints 6 significant digits: half a unit of the last one, or 1e-6 relative if larger."""
    return max(1e-6 * abs(value), 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 5))


@pytest.mark.parametrize("seed", range(3))
def test_exact_is_optimal_against_enumeration_of_every_selection(seed: int, correlation: Correlation) -> None:
    instance = small_instance(seed, n=7, correlation=correlation)
    data = Data.of(instance)
    best = max(evaluate(data, selected).objective for selected in all_binary(data.n))
    progress = NullProgress()
    result = BranchAndPriceSolver().solve(instance, ExactOptions(rel_gap=0), progress, NeverCancel())
    assert result.termination is Termination.optimal and result.status is SolutionStatus.optimal
    assert result.objective == pytest.approx(best, rel=1e-7, abs=1e-7)
    assert result.bound is not None and result.bound >= best - 1e-7
    assert result.gap is not None and result.gap <= 1e-6
    verdict = check(instance, result.solution or {})
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, abs=1e-9)


@pytest.mark.parametrize("seed", range(2))
def test_every_solver_answers_real_valued_data_and_exact_stays_optimal(seed: int, correlation: Correlation) -> None:
    instance = small_instance(seed, n=7, correlation=correlation, integral=False)
    assert not instance.integral and not float(instance.capacity).is_integer()
    # the optimum by enumeration, each selection valued by the independent check
    best = max(worst_case_value(instance, [int(v) for v in selected]) for selected in all_binary(instance.n))
    for name, options in (("exact", {"rel_gap": 0}), ("nominal", {}), ("neur2ro", {"time_limit_s": 10})):
        solver = KIND.solvers[name].load()
        result = solver.solve(instance, solver.Options(**options), NullProgress(), NeverCancel())
        assert result.objective is not None and result.solution is not None
        verdict = check(instance, result.solution)
        assert verdict.feasible, verdict
        assert verdict.objective == pytest.approx(result.objective, rel=1e-9)
        assert result.objective <= best + 1e-7 * abs(best)
        if name == "exact":
            assert result.status is SolutionStatus.optimal
            assert result.objective == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("name", N20)
def test_exact_proves_the_published_optimum(name: str) -> None:
    reference = published_reference()[name]
    instance = published(name)
    result = BranchAndPriceSolver().solve(
        instance, ExactOptions(rel_gap=0, time_limit_s=60), NullProgress(), NeverCancel()
    )
    assert result.termination is Termination.optimal
    assert result.objective is not None and result.bound is not None
    assert abs(result.objective - reference) <= six_digit_tolerance(reference)
    assert result.bound - result.objective <= 1e-6 * abs(result.objective)
    verdict = KIND.check(instance, result.solution or {})
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-9)


@pytest.mark.parametrize("name", N20)
def test_nominal_is_feasible_and_no_better_than_the_optimum(name: str) -> None:
    instance = published(name)
    result = NominalSolver().solve(instance, NominalOptions(), NullProgress(), NeverCancel())
    verdict = check(instance, result.solution or {})
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-9)
    assert result.objective is not None
    assert result.objective <= published_reference()[name] + six_digit_tolerance(result.objective)
    json.dumps(result.solution)


def test_progress_reports_improving_incumbents_and_bounds_and_the_final_ones() -> None:
    instance = published("RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1")
    progress = NullProgress()
    result = BranchAndPriceSolver().solve(instance, ExactOptions(rel_gap=0), progress, NeverCancel())
    assert progress.incumbents == sorted(progress.incumbents) and progress.incumbents[-1] == result.objective
    assert progress.bounds == sorted(progress.bounds, reverse=True) and progress.bounds[-1] == result.bound
    assert len(progress.bounds) >= 3
    assert all(b >= result.objective - 1e-6 for b in progress.bounds)
    assert progress.best_solution == result.solution


def test_time_limit_returns_the_best_selection_and_a_valid_bound() -> None:
    raw = generate(11, n=60, correlation="ASC", delta=0.1, h=40, budget_factor=0.2)
    instance = parse(raw)
    started = time.perf_counter()
    result = BranchAndPriceSolver().solve(instance, ExactOptions(time_limit_s=0.5), NullProgress(), NeverCancel())
    assert time.perf_counter() - started < 5.0
    assert result.termination is Termination.time_limit and result.status is SolutionStatus.feasible
    assert result.objective is not None and result.bound is not None and result.bound >= result.objective
    verdict = check(instance, result.solution or {})
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-9)
    json.dumps(result.solution)


def test_cancel_stops_the_search_and_keeps_the_incumbent() -> None:
    instance = parse(generate(12, n=40, correlation="SC", delta=0.1, h=40, budget_factor=0.2))
    cancel = SetAfter(polls=5)
    result = BranchAndPriceSolver().solve(instance, ExactOptions(time_limit_s=30), NullProgress(), cancel)
    assert result.termination is Termination.cancelled
    assert result.solution is not None and check(instance, result.solution).feasible
    assert result.bound is not None and result.objective is not None and result.bound >= result.objective


def test_node_limit_is_honoured() -> None:
    instance = published("RKP_WC_n20_R1000_H100_h80_dev0.1_d0.5")
    result = BranchAndPriceSolver().solve(instance, ExactOptions(node_limit=2), NullProgress(), NeverCancel())
    assert result.termination is Termination.iteration_limit and result.stats["nodes"] == 2


def test_rel_gap_stops_early_with_an_honest_bound() -> None:
    instance = published("RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1")
    optimum = published_reference()["RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1"]
    result = BranchAndPriceSolver().solve(instance, ExactOptions(rel_gap=0.01), NullProgress(), NeverCancel())
    assert result.bound is not None and result.objective is not None
    assert result.bound >= optimum - six_digit_tolerance(optimum)
    assert result.gap is not None and result.gap <= 0.01 + 1e-9
    assert result.termination in (Termination.optimal, Termination.gap_limit)


def test_solvers_load_through_the_kind_and_return_plain_json() -> None:
    instance = KIND.parse(KIND.example)
    for name, spec in KIND.solvers.items():
        solver = spec.load()
        assert solver.name == name
        result = solver.solve(instance, spec.options(), NullProgress(), NeverCancel())
        encoded = json.loads(json.dumps(result.solution))
        assert encoded == result.solution
        assert all(type(v) is int for v in encoded["selected"])
        assert KIND.check(instance, encoded).feasible


def test_exact_never_loses_to_nominal_on_generated_instances(correlation: Correlation) -> None:
    for seed in range(2):
        instance = parse(generate(seed, n=10, correlation=correlation))
        exact = BranchAndPriceSolver().solve(instance, ExactOptions(rel_gap=0), NullProgress(), NeverCancel())
        nominal = NominalSolver().solve(instance, NominalOptions(), NullProgress(), NeverCancel())
        assert exact.objective is not None and nominal.objective is not None
        assert exact.objective >= nominal.objective - 1e-9
        assert np.isfinite(exact.objective)


def test_cancel_before_the_first_evaluation_still_returns_a_certified_selection() -> None:
    instance = published("RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1")
    progress = NullProgress()
    result = BranchAndPriceSolver().solve(instance, ExactOptions(), progress, SetAfter(polls=0))
    assert result.termination is Termination.cancelled
    assert result.solution is not None and result.objective is not None
    # a finite bound from the start, valid for the published optimum
    optimum = published_reference()["RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1"]
    assert result.bound is not None and math.isfinite(result.bound) and result.bound >= optimum
    assert progress.bounds == [result.bound]
    verdict = check(instance, result.solution)
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, abs=1e-9)


def test_nominal_without_time_to_certify_returns_the_repaired_selection() -> None:
    instance = published("RKP_ASC_n20_R1000_H100_h80_dev0.15_d0.1")
    result = NominalSolver().solve(instance, NominalOptions(), NullProgress(), SetAfter(polls=0))
    assert result.status is SolutionStatus.feasible and result.termination is Termination.cancelled
    assert result.solution is not None and result.objective is not None
    selected, worst = repaired_selection(Data.of(instance))
    assert result.solution["selected"] == [int(v) for v in selected] and result.objective == worst.objective
    verdict = check(instance, result.solution)
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, abs=1e-9)


class UnknownOnThirdRun:
    """A master LP whose third solve ends "Unknown", as HiGHS once did for a warm-started re-solve."""

    def __init__(self, lp: highspy.Highs) -> None:
        self.lp = lp
        self.runs = 0
        self.in_trouble = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lp, name)

    def run(self) -> highspy.HighsStatus:
        self.runs += 1
        self.in_trouble = self.runs == 3
        return self.lp.run()

    def getModelStatus(self) -> highspy.HighsModelStatus:
        return highspy.HighsModelStatus.kUnknown if self.in_trouble else self.lp.getModelStatus()

    def clearSolver(self) -> highspy.HighsStatus:
        self.in_trouble = False
        return self.lp.clearSolver()


def test_a_master_lp_in_numerical_trouble_is_solved_again_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    # On this instance HiGHS once returned "Unknown" for a warm-started master re-solve; the trouble is
    # replayed (the exact path that led to it changes with every change to the search).
    monkeypatch.setattr(exact_module, "new_lp", lambda: UnknownOnThirdRun(new_lp()))
    name = "RKP_UN_n50_R1000_H100_h80_dev0.1_d1"
    instance = published(name)
    result = BranchAndPriceSolver().solve(
        instance, ExactOptions(rel_gap=0, time_limit_s=60), NullProgress(), NeverCancel()
    )
    assert result.stats["lp_restarts"] >= 1
    assert result.termination is Termination.optimal and result.objective is not None
    assert abs(result.objective - published_reference()[name]) <= six_digit_tolerance(published_reference()[name])


@pytest.mark.parametrize(("seed", "correlation_type"), [(4, "WC"), (5, "WC"), (7, "UN"), (0, "SC")])
def test_nominal_selection_is_optimal_when_nothing_degrades(seed: int, correlation_type: Correlation) -> None:
    # the first three are instances where maximising the penalties f instead of the profits p̄ is worse
    data = Data.of(small_instance(seed, n=7, correlation=correlation_type))
    nothing = np.zeros(data.n)

    def value_without_degradation(selected: np.ndarray) -> float:
        return first_stage_profit(data, selected) + second_stage(data, selected, nothing)[0]

    best = max(value_without_degradation(selected) for selected in all_binary(data.n))
    assert value_without_degradation(nominal_selection(data)) == pytest.approx(best, abs=1e-9)
