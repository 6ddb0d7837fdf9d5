"""The learned ``deep_bsde`` solver: closed form within its standard errors, its IM against brute force across
maturities, determinism with a seed, cancellation, and the optional PyTorch extra."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.xva import KIND, check_reference
from solvers.xva.deep_bsde import DeepBsdeSolver, train_replicas
from solvers.xva.engine import Setup
from solvers.xva.generate import generate
from solvers.xva.options import DeepBsdeOptions
from solvers.xva.pricing import netting_set_value
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


def test_learned_initial_margin_follows_brute_force_across_the_books_maturities() -> None:
    # 3 underlyings, 8 trades maturing at several dates: the IM drops as trades leave the book. Learned in
    # units of ΔV (no spread), layer 2 smeared those drops: +29 % and +31 % here; in units of the spread, +10 %
    # and +2 %. Training is bounded by its steps (a few seconds), not by the clock, so the result is fixed.
    inst = KIND.parse(generate(7, underlyings=3, trades=8, paths=2000, steps=24, initial_margin=True, structural=False))
    setup = Setup.from_instance(inst)
    options = DeepBsdeOptions(time_limit_s=600, replicas=1)
    training = train_replicas(setup, options, np.random.SeedSequence(0), Deadline(600), NullProgress())
    assert training.complete
    _, margin = training.models[0]
    assert margin is not None
    rng = np.random.default_rng(5)
    dates = setup.sim_times[(setup.sim_times > 0) & (setup.sim_times < inst.horizon - 1e-9)]
    times = dates[rng.integers(len(dates), size=100)]
    states = np.einsum("pf,uf->pu", rng.standard_normal((100, len(setup.vol))), setup.factor)
    log_spot = setup.log_spot0 + setup.drift * times[:, None] + setup.vol * np.sqrt(times)[:, None] * states
    book, correlation = check_reference.Book.of(inst), np.array(inst.market.correlation)
    learned, brute = np.zeros((2, 100)), np.zeros((2, 100))
    for t in np.unique(times):
        rows = np.flatnonzero(times == t)
        spots = np.exp(log_spot[rows])
        value = netting_set_value(setup.trades, spots, float(t), inst.market.rate)
        learned[:, rows] = margin.quantiles(float(t), log_spot[rows])
        brute[:, rows] = check_reference.brute_force_margins(
            inst, book, correlation, spots, np.full(len(rows), t), value, 5_000, rng
        )
    relative = learned.mean(axis=1) / brute.mean(axis=1) - 1.0
    assert np.all(np.abs(relative) < 0.15), relative


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
    import importlib.util

    inst = KIND.parse(single_trade(paths=400, steps=8))
    assert KIND.refusal is not None and KIND.refusal(inst, "deep_bsde") is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
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
