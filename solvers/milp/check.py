"""Independent verification of a milp solution, from the model and the solution JSON alone.

It imports no back-end code of the kind (only the parsed model): bounds of magnitude ≥ 1e20 arrive as ±inf
(solvers/milp/schema.py's infinity threshold); one on the impossible side (a lower bound of +inf, an upper
bound of −inf) is never met.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers.base import Verification
from solvers.milp.schema import MilpModel, VarType

#: A bound or row is satisfied when its violation is at most this times max(1, |bound|) — the default
#: feasibility tolerance of HiGHS (``mip_feasibility_tolerance``) and SCIP (``numerics/feastol``).
FEASIBILITY_TOLERANCE = 1e-6
#: An integer variable is integral when it is within this of an integer: ten times the solvers' own
#: integrality tolerance (1e-6), so that a value they accept is not refused for rounding noise.
INTEGRALITY_TOLERANCE = 1e-5
CHECKED_BY = "solvers.milp.check"
_SHOWN = 5


def _refuse(message: str) -> Verification:
    return Verification(feasible=False, objective=None, max_violation=0.0, checked_by=CHECKED_BY, message=message)


def _values(model: MilpModel, solution: Any) -> np.ndarray | str:
    """The solution's values in model order, or a message saying what is wrong with the JSON."""
    if not isinstance(solution, dict) or not isinstance(solution.get("values"), dict):
        return "solution must be an object {'values': {name: number}}"
    values: dict[Any, Any] = solution["values"]
    x = np.empty(model.num_vars)
    missing: list[str] = []
    for j, name in enumerate(model.var_names):
        value = values.get(name)
        if value is None:
            missing.append(name)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"value of {name!r} is not a finite number"
        x[j] = float(value)
    if missing:
        return f"{len(missing)} variables have no value, e.g. {', '.join(map(repr, missing[:_SHOWN]))}"
    unknown = [k for k in values if k not in model.var_index]
    if unknown:
        return f"unknown variable names in the solution, e.g. {', '.join(map(repr, unknown[:_SHOWN]))}"
    return x


def _excess(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """How far each value lies outside [lower, upper] (0 inside; infinite bounds count as met here, those on
    the impossible side are caught by :func:`_unreachable`, so that the violation stays a finite number)."""
    with np.errstate(invalid="ignore"):
        below = np.where(np.isfinite(lower), lower - value, 0.0)
        above = np.where(np.isfinite(upper), value - upper, 0.0)
    return np.maximum(np.maximum(below, above), 0.0)


def _scale(lower: np.ndarray, upper: np.ndarray, value: np.ndarray) -> np.ndarray:
    """max(1, |violated bound|) for relative tolerances."""
    bound = np.where(value < lower, lower, upper)
    return np.maximum(1.0, np.abs(np.where(np.isfinite(bound), bound, 0.0)))


def _objective(model: MilpModel, x: np.ndarray) -> float:
    """c·x + offset, summed exactly (math.fsum) and apart from MilpModel.objective_value, which the back-ends
    report with, so that a slip there cannot pass unnoticed."""
    return math.fsum((model.obj * x).tolist()) + model.objective_offset


def _unreachable(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Where a bound is infinite on the impossible side (lower +inf, upper −inf): no finite value meets it."""
    unreachable: np.ndarray = (lower == np.inf) | (upper == -np.inf)
    return unreachable


def check(model: MilpModel, solution: Any) -> Verification:
    """Recompute bounds, integrality, row activities and the objective; never raises."""
    x = _values(model, solution)
    if isinstance(x, str):
        return _refuse(x)
    problems: list[str] = []
    bound_excess = _excess(x, model.lb, model.ub)
    # A semi-continuous x_j is 0 or in [lb_j, ub_j] (for lb_j > ub_j: only 0).
    at_zero = (model.var_types == VarType.semicontinuous) & (np.abs(x) <= FEASIBILITY_TOLERANCE)
    bound_excess[at_zero] = 0.0
    bound_bad = bound_excess > FEASIBILITY_TOLERANCE * _scale(model.lb, model.ub, x)
    bound_bad |= _unreachable(model.lb, model.ub) & ~at_zero
    for j in np.flatnonzero(bound_bad)[:_SHOWN]:
        problems.append(f"variable {model.var_names[j]!r} = {x[j]:g} outside [{model.lb[j]:g}, {model.ub[j]:g}]")
    is_int = model.var_types == VarType.integer
    fraction = np.where(is_int, np.abs(x - np.round(x)), 0.0)
    int_bad = fraction > INTEGRALITY_TOLERANCE
    for j in np.flatnonzero(int_bad)[:_SHOWN]:
        problems.append(f"integer variable {model.var_names[j]!r} = {x[j]:g} is not integral")
    activity = model.matrix @ x if model.num_rows else np.zeros(0)
    row_excess = _excess(activity, model.row_lb, model.row_ub)
    row_bad = row_excess > FEASIBILITY_TOLERANCE * _scale(model.row_lb, model.row_ub, activity)
    row_bad |= _unreachable(model.row_lb, model.row_ub)
    for i in np.flatnonzero(row_bad)[:_SHOWN]:
        problems.append(
            f"row {model.row_names[i]!r}: activity {activity[i]:g} outside [{model.row_lb[i]:g}, {model.row_ub[i]:g}]"
        )
    violations = [
        float(bound_excess.max(initial=0.0)),
        float(fraction.max(initial=0.0)),
        float(row_excess.max(initial=0.0)),
    ]
    count = int(bound_bad.sum() + int_bad.sum() + row_bad.sum())
    message = "feasible" if not count else f"{count} violations: " + "; ".join(problems)
    return Verification(
        feasible=count == 0,
        objective=_objective(model, x),
        max_violation=max(violations),
        checked_by=CHECKED_BY,
        message=message,
    )
