"""The second-stage dynamic program and the exact worst-case evaluation, against enumeration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from solvers.knapsack_2ro.evaluation import (
    Data,
    Reaction,
    best_reaction,
    evaluate,
    reaction_value,
    second_stage,
)
from solvers.knapsack_2ro.generate import Correlation
from tests.solvers.knapsack_2ro.helpers import all_reactions, small_instance


def enumerated_worst_case(data: Data, selected: np.ndarray) -> float:
    """max over conv Y(x) of min over ξ, as one LP over every reaction (minimax + budget duality).

    Variables (λ_k, π, ρ): max Σλ_k a_k − Γπ − Σρ s.t. Σ_k λ_k b_ki − π − ρ_i ≤ 0, Σλ = 1.
    """
    reactions = all_reactions(data, selected)
    k, n = len(reactions), data.n
    constant = np.array([data.penalty @ y for y, _ in reactions])
    slopes = np.array([data.degradation * (y & ~r) for y, r in reactions])  # k × n
    cost = -np.concatenate([constant, [-data.budget], -np.ones(n)])
    upper_rows = np.hstack([slopes.T, -np.ones((n, 1)), -np.eye(n)])
    equality = np.concatenate([np.ones(k), np.zeros(n + 1)])[None, :]
    result = linprog(cost, A_ub=upper_rows, b_ub=np.zeros(n), A_eq=equality, b_eq=[1.0], method="highs")
    assert result.status == 0
    first_stage = float((data.profit - data.penalty) @ selected)
    return first_stage - float(result.fun)


@pytest.mark.parametrize("integral", [True, False])  # False: the Pareto program with its rounded bounds
@pytest.mark.parametrize("seed", range(12))
def test_dynamic_program_matches_enumeration(seed: int, integral: bool) -> None:
    data = Data.of(small_instance(seed, n=8, integral=integral))
    rng = np.random.default_rng(seed)
    value_produce = rng.uniform(-20, 60, data.n)
    value_repair = rng.uniform(-20, 60, data.n)
    allowed = rng.random(data.n) < 0.8
    best, reaction = best_reaction(data, value_produce, value_repair, allowed)
    enumerated = max(float(value_produce @ (y & ~r) + value_repair @ r) for y, r in all_reactions(data, allowed))
    assert best == pytest.approx(enumerated, abs=1e-9)
    # the returned reaction is feasible and achieves the value
    assert not np.any(reaction.produce & ~allowed) and not np.any(reaction.repair & ~reaction.produce)
    assert data.weight @ reaction.produce + data.repair_weight @ reaction.repair <= data.capacity
    achieved = value_produce @ (reaction.produce & ~reaction.repair) + value_repair @ reaction.repair
    assert achieved == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_worst_case_matches_the_dualised_enumeration(seed: int, correlation: Correlation) -> None:
    data = Data.of(small_instance(seed, correlation=correlation))
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):
        selected = rng.random(data.n) < 0.7
        worst = evaluate(data, selected)
        assert worst.objective == pytest.approx(enumerated_worst_case(data, selected), rel=1e-7, abs=1e-7)
        assert worst.lower <= worst.objective + 1e-9


def test_worst_case_scenario_is_valid_and_attains_the_objective() -> None:
    data = Data.of(small_instance(7, n=7))
    selected = np.ones(data.n, dtype=np.bool_)
    worst = evaluate(data, selected)
    assert np.all(worst.xi >= 0) and np.all(worst.xi <= 1) and worst.xi.sum() <= data.budget + 1e-9
    first_stage = float((data.profit - data.penalty) @ selected)
    best_at_xi, _ = second_stage(data, selected, worst.xi)
    assert first_stage + best_at_xi == pytest.approx(worst.objective, abs=1e-9)
    assert first_stage + reaction_value(data, worst.reaction, worst.xi) == pytest.approx(worst.objective, abs=1e-9)


def test_worst_case_is_no_better_than_any_scenario() -> None:
    data = Data.of(small_instance(3, n=7))
    selected = np.ones(data.n, dtype=np.bool_)
    worst = evaluate(data, selected)
    first_stage = float((data.profit - data.penalty) @ selected)
    rng = np.random.default_rng(0)
    for _ in range(50):
        xi = rng.random(data.n)
        xi *= min(1.0, data.budget / xi.sum())
        value, _ = second_stage(data, selected, xi)
        assert worst.objective <= first_stage + value + 1e-9


def test_known_reactions_seed_the_cuts_without_changing_the_value() -> None:
    data = Data.of(small_instance(4, n=7))
    selected = np.ones(data.n, dtype=np.bool_)
    cold = evaluate(data, selected)
    unrelated = Reaction(np.ones(data.n, dtype=np.bool_), np.zeros(data.n, dtype=np.bool_))
    warm = evaluate(data, selected & (np.arange(data.n) > 0), known=[*cold.reactions, unrelated])
    assert warm.objective == pytest.approx(
        enumerated_worst_case(data, selected & (np.arange(data.n) > 0)), rel=1e-7, abs=1e-7
    )
    again = evaluate(data, selected, known=cold.reactions)
    assert again.objective == pytest.approx(cold.objective, abs=1e-7)
    assert again.iterations <= cold.iterations


def test_a_stopped_evaluation_says_so_and_its_lower_value_is_still_guaranteed() -> None:
    data = Data.of(small_instance(2, n=7))
    selected = np.ones(data.n, dtype=np.bool_)
    exact = evaluate(data, selected)
    calls = iter(range(10**6))
    stopped = evaluate(data, selected, stop=lambda: next(calls) >= 1)
    assert exact.converged
    assert exact.iterations > 1  # otherwise this instance tests nothing
    assert not stopped.converged and stopped.iterations == 1
    assert stopped.lower <= exact.objective + 1e-9 <= stopped.objective + 2e-9
