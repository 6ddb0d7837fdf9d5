"""Property: HiGHS, CP-SAT and SCIP against each other on 300 seeded random small models.

Every answer a back-end returns is verified by the check, with the objective it reports equal to the one the
check recomputes; no back-end calls an answer optimal while another back-end has a verified better one, calls
a model infeasible for which another has a verified point, or unbounded where another proves an optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, Result, SolutionStatus, SolverRefused
from solvers.milp import KIND
from solvers.milp.schema import MilpModel

BACKENDS = {name: spec.load() for name, spec in KIND.solvers.items()}
MODELS = 300
SETTLED = (SolutionStatus.optimal, SolutionStatus.infeasible, SolutionStatus.unbounded)


def _half(rng: np.random.Generator, low: int, high: int) -> float:
    """A multiple of 0.5 in [low, high] (decimal data CP-SAT scales exactly)."""
    return float(rng.integers(2 * low, 2 * high + 1)) / 2


def _variable(rng: np.random.Generator, j: int, pure_integer: bool) -> dict[str, Any]:
    kind = "integer" if pure_integer else rng.choice(["integer", "binary", "continuous", "semicontinuous"])
    kind = str(rng.choice(["integer", "binary"], p=[0.8, 0.2])) if pure_integer else str(kind)
    obj = float(rng.integers(-5, 6)) if rng.random() < 0.8 else _half(rng, -5, 5)
    variable: dict[str, Any] = {"name": f"x{j}", "type": kind, "obj": obj}
    if kind == "semicontinuous":
        # lb below 0, missing (−inf), inside (0, ub] or above ub (then only 0 is allowed)
        variable["ub"] = float(rng.choice([3.0, 5.0, 7.5]))
        variable["lb"] = [-2.0, None, 1.0, 2.5, 9.0][int(rng.integers(5))]
        return variable
    if kind == "binary":
        return variable  # [0, 1]
    low = float(rng.integers(-3, 3)) if kind == "integer" else _half(rng, -3, 2)
    variable["lb"] = None if rng.random() < 0.08 else low
    variable["ub"] = (
        None if rng.random() < 0.08 else low + (float(rng.integers(0, 6)) if kind == "integer" else _half(rng, 0, 5))
    )
    return variable


def _reference_point(rng: np.random.Generator, variables: list[dict[str, Any]]) -> dict[str, float]:
    """A point within every variable's domain, that most rows are built to hold (so most models are feasible)."""
    point = {}
    for variable in variables:
        lb, ub = variable.get("lb"), variable.get("ub")
        low = -3.0 if lb is None else lb
        high = low + 3.0 if ub is None else ub
        if variable["type"] == "binary":
            low, high = 0.0, 1.0
        if variable["type"] == "semicontinuous" and (high < low or rng.random() < 0.3):
            point[variable["name"]] = 0.0
        elif variable["type"] in ("integer", "binary"):
            point[variable["name"]] = float(rng.integers(int(low), int(high) + 1))
        else:  # a multiple of 0.5, so that equality rows through the point have short decimal data
            point[variable["name"]] = float(rng.integers(np.ceil(2 * low), np.floor(2 * high) + 1)) / 2
    return point


def _constraint(rng: np.random.Generator, i: int, point: dict[str, float]) -> dict[str, Any]:
    chosen = [name for name in point if rng.random() < 0.7]
    terms = {name: float(rng.integers(1, 5)) * float(rng.choice([-1, 1])) for name in chosen}
    if terms and rng.random() < 0.2:
        terms[next(iter(terms))] = _half(rng, -4, 4) or 0.5
    activity = sum(coefficient * point[name] for name, coefficient in terms.items())
    low, high = np.floor(2 * activity) / 2 - _half(rng, 0, 3), np.ceil(2 * activity) / 2 + _half(rng, 0, 3)
    if rng.random() < 0.2:  # bounds regardless of the point: often infeasible
        low, high = sorted((_half(rng, -8, 8), _half(rng, -8, 8)))
    kind = str(rng.choice(["le", "ge", "range", "eq"], p=[0.35, 0.3, 0.2, 0.15]))
    if kind == "eq":
        low = high = activity if low <= activity <= high else high
    row_lb = None if kind == "le" else float(low)
    row_ub = None if kind == "ge" else float(high)
    return {"name": f"c{i}", "terms": terms, "lb": row_lb, "ub": row_ub}


def random_model(seed: int) -> MilpModel:
    """A model of 2–4 variables and 1–3 rows; half of them pure integer (so CP-SAT takes them), the rest mixing
    integer, binary, continuous and semi-continuous variables; ≤, ≥, range and equality rows, most of them
    built around a point of the domain."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    pure_integer = rng.random() < 0.5
    variables = [_variable(rng, j, pure_integer) for j in range(n)]
    point = _reference_point(rng, variables)
    raw = {
        "format": "json",
        "sense": str(rng.choice(["minimize", "maximize"])),
        "variables": variables,
        "constraints": [_constraint(rng, i, point) for i in range(int(rng.integers(1, 4)))],
    }
    model: MilpModel = KIND.parse(raw)
    return model


def _solve(name: str, model: MilpModel) -> Result | None:
    backend = BACKENDS[name]
    try:
        return backend.solve(model, backend.Options(rel_gap=0.0, time_limit_s=20), NullProgress(), NeverCancel())
    except SolverRefused:
        assert name == "cpsat", f"{name} refused"
        return None


def _better(sense: str, a: float, b: float) -> bool:
    """a is better than b by more than the optimality tolerance."""
    slack = 1e-6 * max(1.0, abs(a), abs(b))
    return a < b - slack if sense == "minimize" else a > b + slack


@pytest.mark.parametrize("seed", range(MODELS))
def test_backends_agree_with_each_other_and_the_check(seed: int) -> None:
    model = random_model(seed)
    results = {name: _solve(name, model) for name in sorted(BACKENDS)}
    taken = {name: result for name, result in results.items() if result is not None}
    verified: dict[str, float] = {}
    for name, result in taken.items():
        assert result.status in SETTLED, (name, result)
        if result.solution is None:
            continue
        verification = KIND.check(model, result.solution)
        assert verification.feasible, (name, verification.message)
        if result.objective is not None:  # None for an unbounded model's feasible point
            assert verification.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-9), name
            verified[name] = result.objective
    for name, result in taken.items():
        if result.status is SolutionStatus.optimal:
            assert result.objective is not None
            for other, value in verified.items():
                assert not _better(model.sense, value, result.objective), (name, result.objective, other, value)
        if result.status is SolutionStatus.infeasible:
            assert not verified, (name, verified)
        if result.status is SolutionStatus.unbounded:
            assert all(r.status is not SolutionStatus.optimal for r in taken.values()), (name, taken)
