"""The monte_carlo solver: verified solutions, progress, cancellation, time limit, reproducibility."""

from __future__ import annotations

import json
import math

import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.xva import KIND, Solution
from solvers.xva.generate import generate
from solvers.xva.monte_carlo import MonteCarloSolver
from solvers.xva.options import MonteCarloOptions
from tests.solvers.xva.helpers import single_trade, solve


class CancelAfter:
    """A Cancel that is set once ``progress`` has seen ``count`` incumbents."""

    def __init__(self, progress: NullProgress, count: int) -> None:
        self.progress = progress
        self.count = count

    def is_set(self) -> bool:
        return len(self.progress.incumbents) >= self.count


@pytest.mark.parametrize(
    ("seed", "initial_margin", "collateralised", "defaults"),
    [
        (1, False, True, "exact"),
        (2, True, True, "exact"),
        (3, True, False, "simulated"),
        (4, False, False, "simulated"),
    ],
)
def test_generated_netting_sets_pass_the_independent_check(
    seed: int, initial_margin: bool, collateralised: bool, defaults: str
) -> None:
    raw = generate(
        seed,
        underlyings=4,
        trades=12,
        paths=1_000,
        steps=24,
        initial_margin=initial_margin,
        collateralised=collateralised,
    )
    result = solve(raw, default_probabilities=defaults)
    assert result.status == SolutionStatus.feasible and result.termination == Termination.optimal
    assert result.bound is None
    solution = result.solution
    assert solution is not None
    json.loads(json.dumps(solution, allow_nan=False))
    Solution.model_validate(solution)
    assert len(solution["exposure"]["times"]) == 25
    assert solution["paths"] == 1_000
    assert all(solution["std_error"][name] >= 0 for name in ("cva", "dva", "fva", "mva", "colva"))
    assert result.objective == solution["cva"]


def test_cancellation_keeps_the_paths_done_with_their_standard_errors() -> None:
    raw = single_trade(paths=20_000, steps=20)
    inst = KIND.parse(raw)
    progress = NullProgress()
    result = MonteCarloSolver().solve(inst, MonteCarloOptions(chunk_paths=1_000), progress, CancelAfter(progress, 3))
    assert result.termination == Termination.cancelled
    assert result.status == SolutionStatus.feasible
    assert result.solution is not None
    assert result.solution["paths"] == 3_000 == result.stats["paths_done"]
    assert result.solution["std_error"]["cva"] > 0
    assert KIND.check(inst, result.solution).feasible


def test_cancel_before_any_path_returns_no_solution() -> None:
    inst = KIND.parse(single_trade(paths=2_000))
    progress = NullProgress()
    result = MonteCarloSolver().solve(inst, MonteCarloOptions(), progress, CancelAfter(progress, 0))
    assert result.termination == Termination.cancelled
    assert result.status == SolutionStatus.no_solution and result.solution is None


def test_time_limit_stops_early_with_a_verified_partial_estimate() -> None:
    inst = KIND.parse(generate(5, underlyings=3, trades=10, paths=400_000, steps=100))
    result = MonteCarloSolver().solve(
        inst, MonteCarloOptions(time_limit_s=0.5, chunk_paths=500), NullProgress(), NeverCancel()
    )
    assert result.termination == Termination.time_limit
    assert result.solution is not None
    assert 0 < result.stats["paths_done"] < 400_000
    assert result.stats["solve_time_s"] < 5.0
    assert KIND.check(inst, result.solution).feasible


def test_progress_reports_a_running_estimate_per_chunk() -> None:
    inst = KIND.parse(single_trade(paths=4_000, steps=10))
    progress = NullProgress()
    result = MonteCarloSolver().solve(inst, MonteCarloOptions(chunk_paths=1_000), progress, NeverCancel())
    assert len(progress.incumbents) == 4
    assert progress.incumbents[-1] == result.objective
    assert progress.best_solution is not None and progress.best_solution["paths"] >= 1_000
    assert KIND.check(inst, progress.best_solution).feasible


def test_same_seed_reproduces_and_another_seed_changes_the_estimate() -> None:
    raw = single_trade(paths=2_000, steps=10)
    first, second = solve(raw), solve(raw)
    other = solve(raw, seed=1)
    assert first.solution == second.solution
    assert first.objective != other.objective


def test_antithetic_paths_lower_the_standard_error() -> None:
    raw = single_trade(paths=4_000, steps=20)
    plain = solve(raw, antithetic=False).solution
    paired = solve(raw, antithetic=True).solution
    assert plain is not None and paired is not None
    assert paired["std_error"]["cva"] < 0.7 * plain["std_error"]["cva"]


def test_odd_path_count_is_rounded_up_to_whole_antithetic_pairs() -> None:
    result = solve(single_trade(paths=1_001, steps=5))
    assert result.stats["paths_done"] == 1_002


def test_unreachable_threshold_or_minimum_transfer_equals_no_collateral() -> None:
    base = single_trade(paths=2_000, steps=10, collateral={"threshold": None, "margin_period_days": 10})
    reference = solve(base).solution
    for csa in ({"threshold": 1e9}, {"threshold": 0.0, "minimum_transfer": 1e9}):
        raw = single_trade(paths=2_000, steps=10, collateral={**csa, "margin_period_days": 10})
        solution = solve(raw).solution
        assert solution is not None and reference is not None
        assert math.isclose(solution["cva"], reference["cva"], rel_tol=1e-12)
        assert solution["exposure"]["epe"] == pytest.approx(reference["exposure"]["epe"], rel=1e-12)


def test_threshold_caps_the_collateralised_exposure_of_a_long_call() -> None:
    collateralised = single_trade(
        paths=4_000, steps=20, collateral={"threshold": 2.0, "minimum_transfer": 0.0, "margin_period_days": 0}
    )
    solution = solve(collateralised).solution
    assert solution is not None
    assert max(solution["exposure"]["epe"]) <= 2.0 + 1e-9
    assert max(solution["exposure"]["pfe"]) <= 2.0 + 1e-6
