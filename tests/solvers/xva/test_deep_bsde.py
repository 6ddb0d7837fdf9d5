"""The learned ``deep_bsde`` solver: closed form within its standard errors, determinism with a seed,
cancellation, and PyTorch kept out of the kind's import (it is an optional extra)."""

from __future__ import annotations

import math

import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.xva import KIND
from solvers.xva.deep_bsde import DeepBsdeSolver
from solvers.xva.options import DeepBsdeOptions
from tests.solvers.xva.helpers import black_scholes, single_trade

UNCOLLATERALISED = {"threshold": None, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": None}
#: Small training runs: the tests assert behaviour, the benchmark measures accuracy at full size.
QUICK = {"value_steps": 200, "quantile_steps": 150, "quantile_samples": 8_192, "training_paths": 512}


def test_long_call_cva_agrees_with_the_closed_form_within_its_standard_errors() -> None:
    # uncollateralised long call: EPE_k = V_0 at every date, so CVA = (1 − R)·V_0·(1 − e^{−λT})
    raw = single_trade(paths=4_000, steps=20, seed=3, collateral=UNCOLLATERALISED)
    inst = KIND.parse(raw)
    result = DeepBsdeSolver().solve(inst, DeepBsdeOptions(value_steps=400), NullProgress(), NeverCancel())
    assert result.status == SolutionStatus.feasible and result.termination == Termination.optimal
    assert result.solution is not None
    exact = 0.6 * black_scholes("call", 100.0, 100.0, 1.0, 0.01, 0.0, 0.25) * (1.0 - math.exp(-0.02))
    error = result.solution["std_error"]["cva"]
    assert 0.0 < error < 0.05 * exact
    assert abs(result.solution["cva"] - exact) <= 3.0 * error, (result.solution["cva"], exact, error)
    verification = KIND.check(inst, result.solution)
    assert verification.feasible, verification.message


def test_same_seed_reproduces_and_another_seed_changes_the_answer() -> None:
    collateral = {"threshold": 0.0, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": {}}
    inst = KIND.parse(single_trade("european_put", quantity=-2.0, paths=400, steps=8, collateral=collateral))
    runs = [
        DeepBsdeSolver().solve(inst, DeepBsdeOptions(seed=seed, **QUICK), NullProgress(), NeverCancel())
        for seed in (4, 4, 5)
    ]
    solutions = [run.solution for run in runs]
    assert solutions[0] is not None and solutions[0]["mva"] > 0.0
    assert solutions[0] == solutions[1]
    assert solutions[0] != solutions[2]
    assert runs[0].stats["loss_curve"] == runs[1].stats["loss_curve"]


def test_the_loss_curve_is_reported_as_progress_and_falls() -> None:
    inst = KIND.parse(single_trade(paths=400, steps=8, collateral=UNCOLLATERALISED))
    progress = NullProgress()
    result = DeepBsdeSolver().solve(inst, DeepBsdeOptions(**QUICK), progress, NeverCancel())
    lines = [line for line in progress.lines if line.startswith("deep_bsde layer 1")]
    assert len(lines) >= 10
    curve = result.stats["loss_curve"]["clean_values"]
    assert [step for step, _ in curve] == sorted(step for step, _ in curve)
    # the second half trains against the target less the network's own martingale term: far less noise
    assert curve[-1][1] < 0.2 * curve[0][1]
    assert progress.incumbents and progress.best_solution is not None


def test_cancel_during_training_returns_no_solution() -> None:
    class CancelNow:
        def is_set(self) -> bool:
            return True

    inst = KIND.parse(single_trade(paths=400, steps=8))
    result = DeepBsdeSolver().solve(inst, DeepBsdeOptions(**QUICK), NullProgress(), CancelNow())
    assert result.termination == Termination.cancelled
    assert result.status == SolutionStatus.no_solution and result.solution is None


def test_a_short_time_limit_stops_training_and_says_so() -> None:
    inst = KIND.parse(single_trade(paths=400, steps=8, collateral=UNCOLLATERALISED))
    options = DeepBsdeOptions(time_limit_s=2.0, value_steps=100_000, training_share=0.5)
    result = DeepBsdeSolver().solve(inst, options, NullProgress(), NeverCancel())
    assert result.termination == Termination.time_limit
    assert result.stats["training_complete"] is False
    assert result.solution is not None  # the networks as trained so far, evaluated on the paths


def test_without_torch_the_kind_refuses_deep_bsde_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import solvers.xva

    inst = KIND.parse(single_trade(paths=400, steps=8))
    assert KIND.refusal is not None and KIND.refusal(inst, "deep_bsde") is None
    monkeypatch.setattr(solvers.xva.importlib.util, "find_spec", lambda name: None)
    message = KIND.refusal(inst, "deep_bsde")
    assert message is not None and "'learned'" in message and "PyTorch" in message
    assert KIND.refusal(inst, "monte_carlo") is None


def margined_netting_set(paths: int) -> dict[str, object]:
    """A long call and a short put, variation margin at threshold 5 and IM at 99 %: DVA is the 1 % tail of
    the value change beyond the posted IM, very sensitive to the learned IM's error."""
    collateral = {"threshold": 5.0, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": {}}
    raw = single_trade(paths=paths, steps=12, seed=9, collateral=collateral)
    raw["trades"].append(
        {"id": "t2", "type": "european_put", "underlying": "S1", "strike": 90.0, "maturity": 1.0, "quantity": -1.0}
    )
    return raw


@pytest.mark.parametrize("seed", [2, 8])
def test_standard_errors_cover_the_networks_error_of_a_tail_adjustment(seed: int) -> None:
    # With the evaluation's sampling error alone, these seeds' DVA was 7 standard errors above the truth (IM
    # learned with noise: the positive part beyond it is convex, so DVA is biased up); the replicas' spread
    # now enters the standard errors
    from solvers.xva.monte_carlo import MonteCarloSolver
    from solvers.xva.options import MonteCarloOptions

    reference = (
        MonteCarloSolver()
        .solve(KIND.parse(margined_netting_set(100_000)), MonteCarloOptions(), NullProgress(), NeverCancel())
        .solution
    )
    assert reference is not None
    inst = KIND.parse(margined_netting_set(2_000))
    options = DeepBsdeOptions(value_steps=300, quantile_steps=400, quantile_samples=32_768, seed=seed)
    result = DeepBsdeSolver().solve(inst, options, NullProgress(), NeverCancel())
    solution = result.solution
    assert solution is not None and result.stats["replicas"] == options.replicas
    for name in ("cva", "dva", "fva", "mva"):
        combined = math.hypot(solution["std_error"][name], reference["std_error"][name])
        assert abs(solution[name] - reference[name]) <= 3.0 * combined, (name, solution[name], reference[name])
