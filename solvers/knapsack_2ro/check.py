"""Independent verification of a knapsack_2ro solution, from the solution JSON alone."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers.base import Verification
from solvers.knapsack_2ro.evaluation import Data, evaluate
from solvers.knapsack_2ro.schema import Instance

CHECKED_BY = "knapsack_2ro.check (exact worst case by Kelley cutting planes + dynamic program)"
#: Largest violation of the reported worst-case block that still counts as feasible.
FEASIBILITY_TOLERANCE = 1e-6


def _malformed(message: str) -> Verification:
    """The verdict on a solution that cannot be read."""
    return Verification(False, None, 0.0, CHECKED_BY, message)


def _binary_vector(value: Any, n: int, name: str) -> tuple[list[int] | None, str]:
    """A list of n zeros and ones, or None and why not."""
    if not isinstance(value, list) or len(value) != n:
        return None, f"{name} must be a list of {n} zeros and ones"
    out: list[int] = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, int | float) or entry not in (0, 1):
            return None, f"{name} must contain only 0 and 1"
        out.append(int(entry))
    return out, ""


def _worst_case_violation(data: Data, selected: list[int], worst_case: Any) -> tuple[float | None, str]:
    """How far the reported worst-case block is from a valid scenario and reaction (None: malformed)."""
    if not isinstance(worst_case, dict):
        return None, "worst_case must be an object with xi, produce and repair"
    n = data.n
    xi = worst_case.get("xi")
    if (
        not isinstance(xi, list)
        or len(xi) != n
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in xi)
    ):
        return None, f"worst_case.xi must be a list of {n} finite numbers"
    produce, why = _binary_vector(worst_case.get("produce"), n, "worst_case.produce")
    if produce is None:
        return None, why
    repair, why = _binary_vector(worst_case.get("repair"), n, "worst_case.repair")
    if repair is None:
        return None, why
    xi_array = np.asarray(xi, dtype=np.float64)
    violations = {
        "xi below 0": float(np.max(-xi_array, initial=0.0)),
        "xi above 1": float(np.max(xi_array - 1.0, initial=0.0)),
        "sum of xi above the budget": max(0.0, float(xi_array.sum()) - data.budget),
        "produce without select": float(max((p - s for p, s in zip(produce, selected, strict=True)), default=0)),
        "repair without produce": float(max((r - p for r, p in zip(repair, produce, strict=True)), default=0)),
        "capacity": max(
            0.0,
            float(np.dot(data.weight, produce) + np.dot(data.repair_weight, repair)) - data.capacity,
        ),
    }
    worst_name = max(violations, key=lambda k: violations[k])
    worst = violations[worst_name] + 0.0  # no negative zero
    return worst, (f"worst_case violates {worst_name} by {worst:g}" if worst > FEASIBILITY_TOLERANCE else "")


def check(instance: Instance, solution: Any) -> Verification:
    """Recompute the exact worst-case profit of ``solution["selected"]``; never raises on malformed input."""
    try:
        data = Data.of(instance)
        if not isinstance(solution, dict):
            return _malformed("solution must be an object")
        selected, why = _binary_vector(solution.get("selected"), data.n, "selected")
        if selected is None:
            return _malformed(why)
        unknown = sorted(set(solution) - {"selected", "worst_case"})
        if unknown:
            return _malformed(f"unknown solution fields: {unknown}")
        violation, message = 0.0, ""
        if solution.get("worst_case") is not None:
            reported, message = _worst_case_violation(data, selected, solution["worst_case"])
            if reported is None:
                return _malformed(message)
            violation = reported
        worst = evaluate(data, np.asarray(selected, dtype=np.bool_))
        return Verification(
            feasible=violation <= FEASIBILITY_TOLERANCE,
            objective=worst.objective,
            max_violation=violation,
            checked_by=CHECKED_BY,
            message=message or f"exact worst case after {worst.iterations} cutting-plane iterations",
        )
    except Exception as exc:  # a checker must answer, whatever it is given
        return _malformed(f"could not check the solution: {exc}")
