"""Trustworthy answers (issue 18): a check that shares nothing with the solvers, a true nominal baseline,
and every solver against brute force on small instances."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from solvers.base import JSON, NeverCancel, NullProgress, Result, SolutionStatus
from solvers.knapsack_2ro import KIND, evaluation
from solvers.knapsack_2ro.check import check
from solvers.knapsack_2ro.evaluation import Data, evaluate, solution_dict
from solvers.knapsack_2ro.schema import Instance, parse
from tests.solvers.knapsack_2ro.helpers import all_binary, all_reactions, small_instance

#: The service's own tolerance between a reported and a recomputed objective (workers/tasks.py).
TOLERANCE = 1e-6
#: Options that keep each solver quick on instances of at most 6 items.
QUICK: dict[str, dict[str, Any]] = {
    "exact": {"rel_gap": 0.0, "time_limit_s": 20},
    "neur2ro": {"max_iterations": 5, "time_limit_s": 20},
}


def close(a: float, b: float) -> bool:
    """Equal within the service's relative tolerance."""
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def enumerated_worst_case(data: Data, selected: np.ndarray) -> float:
    """W(x) by one LP over every reaction (max over conv Y(x) of min over ξ, Ξ dualised)."""
    reactions = all_reactions(data, selected)
    k, n = len(reactions), data.n
    constant = np.array([data.penalty @ y for y, _ in reactions])
    slopes = np.array([data.degradation * (y & ~r) for y, r in reactions])
    cost = -np.concatenate([constant, [-data.budget], -np.ones(n)])
    rows = np.hstack([slopes.T, -np.ones((n, 1)), -np.eye(n)])
    equality = np.concatenate([np.ones(k), np.zeros(n + 1)])[None, :]
    result = linprog(cost, A_ub=rows, b_ub=np.zeros(n), A_eq=equality, b_eq=[1.0], method="highs")
    assert result.status == 0
    return float((data.profit - data.penalty) @ selected) - float(result.fun)


def brute_force(instance: Instance) -> tuple[float, dict[bytes, float]]:
    """The optimum over every selection, and each selection's worst case, by enumeration."""
    data = Data.of(instance)
    values = {x.tobytes(): enumerated_worst_case(data, x) for x in all_binary(data.n)}
    return max(values.values()), values


def tiny_random(seed: int) -> Instance:
    """A small instance with any signs of p̄ − f (the published recipe always has f > p̄), zeros included."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    profit = rng.integers(0, 60, size=n).astype(float)
    raw: JSON = {
        "format": "json",
        "capacity": int(rng.integers(0, 20)),
        "budget": float(np.round(rng.uniform(0, n), 2)),
        "items": [
            {
                "profit": float(profit[i]),
                "degradation": float(rng.integers(0, int(profit[i]) + 1)),
                "weight": int(rng.integers(0, 10)),
                "repair_weight": int(rng.integers(0, 6)),
                "outsource_penalty": float(rng.integers(0, 80)),
            }
            for i in range(n)
        ],
    }
    return parse(raw)


def property_instance(index: int) -> Instance:
    """Instance ``index`` of the property set: half from the published recipe, half tiny_random."""
    if index % 2:
        return tiny_random(index)
    return small_instance(index, n=2 + index % 5, correlation=("UN", "WC", "ASC", "SC")[index // 2 % 4])


def solve(name: str, instance: Instance) -> Result:
    """One solve with the quick options."""
    spec = KIND.solvers[name]
    return spec.load().solve(instance, spec.options(**QUICK.get(name, {})), NullProgress(), NeverCancel())


@pytest.mark.parametrize("index", range(40))
def test_every_solver_agrees_with_the_check_and_brute_force(index: int) -> None:
    instance = property_instance(index)
    optimum, worst_cases = brute_force(instance)
    runs = {name: solve(name, instance) for name in KIND.solvers}
    checked: dict[str, float] = {}
    for name, result in runs.items():
        assert result.solution is not None and result.objective is not None, name
        verdict = check(instance, result.solution)
        assert verdict.feasible and verdict.objective is not None, (name, verdict.message)
        assert close(result.objective, verdict.objective), (name, result.objective, verdict.objective)
        selected = np.array(result.solution["selected"], dtype=np.bool_)
        assert close(verdict.objective, worst_cases[selected.tobytes()]), name
        assert verdict.objective <= optimum + TOLERANCE * max(1.0, abs(optimum)), name
        if result.bound is not None:
            assert result.bound >= optimum - TOLERANCE * max(1.0, abs(optimum)), (name, result.bound, optimum)
        checked[name] = verdict.objective
    for name, result in runs.items():
        if result.status == SolutionStatus.optimal:
            assert close(checked[name], optimum), (name, checked[name], optimum)
            assert all(checked[name] >= other - TOLERANCE * max(1.0, abs(other)) for other in checked.values())


@pytest.mark.parametrize("seed", range(8))
def test_the_check_matches_the_enumerated_worst_case_of_any_selection(seed: int) -> None:
    instance = tiny_random(100 + seed) if seed % 2 else small_instance(100 + seed, n=6)
    data = Data.of(instance)
    for selected in all_binary(data.n)[:: max(1, 2**data.n // 12)]:
        verdict = check(instance, {"selected": [int(v) for v in selected]})
        assert verdict.feasible and verdict.objective is not None
        assert close(verdict.objective, enumerated_worst_case(data, selected))


def test_the_check_imports_no_solver_module() -> None:
    # the package itself and its options load with any import; nothing of the solvers may
    allowed = ["", ".check", ".schema", ".options", ".learned", ".learned.options"]
    code = (
        "import sys; import solvers.knapsack_2ro.check; "
        f"allowed = {{'solvers.knapsack_2ro' + suffix for suffix in {allowed!r}}}; "
        "loaded = [m for m in sys.modules if m.startswith('solvers.knapsack_2ro') and m not in allowed]; "
        "loaded += [m for m in ('highspy', 'ortools', 'torch') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_bug_in_the_solvers_evaluation_does_not_pass_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    instance = small_instance(5, n=6)
    data = Data.of(instance)
    selected = np.array([1, 1, 0, 1, 0, 1], dtype=np.bool_)
    honest = check(instance, solution_dict(data, selected, evaluate(data, selected)))
    assert honest.objective is not None

    real = evaluation.best_reaction  # patched below so that every repair looks 1000 better
    monkeypatch.setattr(evaluation, "best_reaction", lambda data, vp, vr, allowed: real(data, vp, vr + 1000.0, allowed))
    wrong = evaluate(data, selected)
    assert wrong.objective > honest.objective + 1  # the solvers' evaluation is now wrong ...
    verdict = check(instance, solution_dict(data, selected, wrong))
    assert verdict.objective == pytest.approx(honest.objective)  # ... and the check does not follow it


# Capacity 1, two items of weight 1 and no degradation: A = (p̄ 100, f 1), B = (p̄ 50, f 60).
# Selecting both and producing B earns 50 + (100 − 1) = 149; knapsacking p̄ produced A and earned 100.
PROFIT_ABOVE_PENALTY: JSON = {
    "format": "json",
    "capacity": 1,
    "budget": 0.0,
    "items": [
        {"profit": 100.0, "degradation": 0.0, "weight": 1, "repair_weight": 0, "outsource_penalty": 1.0},
        {"profit": 50.0, "degradation": 0.0, "weight": 1, "repair_weight": 0, "outsource_penalty": 60.0},
    ],
}


def test_nominal_is_the_optimum_without_degradation_when_profit_exceeds_the_penalty() -> None:
    instance = parse(PROFIT_ABOVE_PENALTY)
    result = solve("nominal", instance)
    assert result.objective == pytest.approx(149.0)
    assert result.solution is not None and result.solution["selected"] == [1, 1]
    assert brute_force(instance)[0] == pytest.approx(149.0)


@pytest.mark.parametrize("seed", range(12))
def test_nominal_is_optimal_whenever_nothing_degrades(seed: int) -> None:
    raw = tiny_random(200 + seed).as_json()
    raw["budget"] = 0.0
    instance = parse(raw)
    result = solve("nominal", instance)
    assert result.objective == pytest.approx(brute_force(instance)[0])
