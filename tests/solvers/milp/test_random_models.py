"""Random small integer programs: every back-end matches brute-force enumeration (optimum or infeasible)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import NeverCancel, NullProgress, SolutionStatus
from solvers.milp import KIND
from solvers.milp.schema import MilpModel

BACKENDS = {name: spec.load() for name, spec in KIND.solvers.items()}
coefficients = st.integers(-4, 4)


@st.composite
def small_integer_programs(draw: st.DrawFn) -> dict[str, Any]:
    """2–3 integer variables in [-2, 3] (or tighter), 1–3 rows with small integer data."""
    n = draw(st.integers(2, 3))
    variables = []
    for j in range(n):
        lb = draw(st.integers(-2, 1))
        ub = draw(st.integers(lb, 3))
        variables.append({"name": f"x{j}", "type": "integer", "lb": lb, "ub": ub, "obj": draw(coefficients)})
    constraints = []
    for i in range(draw(st.integers(1, 3))):
        terms = {f"x{j}": float(draw(coefficients)) for j in range(n)}
        lo, hi = sorted((draw(st.integers(-8, 8)), draw(st.integers(-8, 8))))
        kind = draw(st.sampled_from(["le", "ge", "range", "eq"]))
        row_lb = None if kind == "le" else (hi if kind == "eq" else lo)
        row_ub = None if kind == "ge" else hi
        constraints.append({"name": f"c{i}", "terms": terms, "lb": row_lb, "ub": row_ub})
    sense = draw(st.sampled_from(["minimize", "maximize"]))
    return {"format": "json", "sense": sense, "variables": variables, "constraints": constraints}


def brute_force(model: MilpModel) -> float | None:
    """The optimum by enumerating every integer point in the bounds, None when there is none."""
    best: float | None = None
    ranges = [range(int(lo), int(hi) + 1) for lo, hi in zip(model.lb, model.ub, strict=True)]
    for point in itertools.product(*ranges):
        x = np.array(point, dtype=float)
        activity = model.matrix @ x
        if np.all(activity >= model.row_lb - 1e-9) and np.all(activity <= model.row_ub + 1e-9):
            value = model.objective_value(x)
            if best is None or (value < best if model.sense == "minimize" else value > best):
                best = value
    return best


@pytest.mark.parametrize("solver", sorted(BACKENDS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=small_integer_programs())
def test_backend_matches_enumeration(solver: str, raw: dict[str, Any]) -> None:
    model = KIND.parse(raw)
    expected = brute_force(model)
    backend = BACKENDS[solver]
    result = backend.solve(model, backend.Options(rel_gap=0.0, time_limit_s=10), NullProgress(), NeverCancel())
    if expected is None:
        assert result.status is SolutionStatus.infeasible
    else:
        assert result.status is SolutionStatus.optimal
        assert result.objective == pytest.approx(expected, abs=1e-6)
        assert KIND.check(model, result.solution or {}).feasible


@st.composite
def small_mixed_programs(draw: st.DrawFn) -> dict[str, Any]:
    """Mixed integer/continuous programs whose variables may lack bounds (so some are unbounded)."""
    raw = draw(small_integer_programs())
    for variable in raw["variables"]:
        variable["type"] = draw(st.sampled_from(["integer", "continuous"]))
        if draw(st.booleans()):
            variable["ub"] = None
        if draw(st.booleans()):
            variable["lb"] = None
    return raw


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=small_mixed_programs())
def test_highs_and_scip_agree_on_mixed_models_including_unbounded_ones(raw: dict[str, Any]) -> None:
    model = KIND.parse(raw)
    results = {
        name: BACKENDS[name].solve(
            model, BACKENDS[name].Options(rel_gap=0.0, time_limit_s=10), NullProgress(), NeverCancel()
        )
        for name in ("highs", "scip")
    }
    highs, scip = results["highs"], results["scip"]
    assert highs.status is scip.status
    assert highs.status in (SolutionStatus.optimal, SolutionStatus.infeasible, SolutionStatus.unbounded)
    if highs.status is SolutionStatus.optimal:
        assert highs.objective == pytest.approx(scip.objective, abs=1e-6)
        for result in results.values():
            assert KIND.check(model, result.solution or {}).feasible
