"""Answers at every time limit (issue 19): a verified solution from every solver at 1 s on an n = 80
instance, and the repaired selection of a solver out of time before its first certificate."""

from __future__ import annotations

import time

import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.knapsack_2ro import KIND
from solvers.knapsack_2ro.check import check
from solvers.knapsack_2ro.evaluation import Data, evaluate, repaired_selection, solution_dict
from solvers.knapsack_2ro.generate import Correlation, generate
from solvers.knapsack_2ro.schema import Instance, parse
from tests.solvers.knapsack_2ro.helpers import published, small_instance


@pytest.fixture(scope="module")
def n80_instance() -> Instance:
    """A generated instance of the largest published size and capacity (n = 80, h = 80), slow to evaluate."""
    return parse(generate(80, n=80, correlation="UN", h=80, budget_factor=0.2, delta=1.0))


@pytest.mark.parametrize("name", list(KIND.solvers))
def test_every_solver_returns_a_verified_solution_at_a_one_second_limit(name: str, n80_instance: Instance) -> None:
    spec = KIND.solvers[name]
    options = spec.options(time_limit_s=1.0)
    result = spec.load().solve(n80_instance, options, NullProgress(), NeverCancel())
    assert result.status is SolutionStatus.feasible and result.solution is not None
    verdict = KIND.check(n80_instance, result.solution)
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", ["nominal", "neur2ro"])
def test_out_of_time_before_the_first_certificate_gives_the_repaired_selection(
    name: str, n80_instance: Instance
) -> None:
    spec = KIND.solvers[name]
    options = spec.options(time_limit_s=1e-6)
    result = spec.load().solve(n80_instance, options, NullProgress(), NeverCancel())
    assert result.status is SolutionStatus.feasible and result.termination is Termination.time_limit
    selected, worst = repaired_selection(Data.of(n80_instance))
    assert result.solution is not None and result.solution["selected"] == [int(v) for v in selected]
    verdict = KIND.check(n80_instance, result.solution)
    assert verdict.feasible and verdict.objective == pytest.approx(worst.objective, rel=1e-9, abs=1e-9)
    assert result.objective == pytest.approx(worst.objective, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("integral", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_the_repaired_selection_is_worth_exactly_what_it_claims(
    seed: int, correlation: Correlation, integral: bool
) -> None:
    instance = small_instance(seed, n=7, correlation=correlation, integral=integral)
    data = Data.of(instance)
    selected, worst = repaired_selection(data)
    assert worst.converged and selected.any()
    assert worst.objective == pytest.approx(evaluate(data, selected).objective, rel=1e-9, abs=1e-9)
    verdict = check(instance, solution_dict(data, selected, worst))
    assert verdict.feasible and verdict.objective == pytest.approx(worst.objective, rel=1e-9, abs=1e-9)


@pytest.mark.timeout(60, method="thread")  # a stall is in native code, which the signal method cannot interrupt
def test_neur2ro_keeps_its_limit_where_a_highs_sub_mip_once_stalled() -> None:
    # HiGHS's root reduced-cost heuristic ran a sub-MIP whose presolve ignored the time limit on this
    # instance's main problem: a 5 s solve ran for more than 10 minutes. The whole limit goes to the
    # learned loop (its main problems), as when the stall was found.
    instance = published("RKP_SC_n60_R1000_H100_h40_dev0.2_d0.1")
    spec = KIND.solvers["neur2ro"]
    started = time.perf_counter()
    options = spec.options.model_validate({"time_limit_s": 3.0, "learned_share": 1.0})
    result = spec.load().solve(instance, options, NullProgress(), NeverCancel())
    assert time.perf_counter() - started < 3.0 + 1.0
    assert result.status is SolutionStatus.feasible and result.solution is not None
    verdict = check(instance, result.solution)
    assert verdict.feasible and verdict.objective == pytest.approx(result.objective, rel=1e-6, abs=1e-6)
