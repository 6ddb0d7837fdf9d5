"""Shared helpers for the treemap tests."""

from __future__ import annotations

from typing import Any

from solvers.base import JSON, NeverCancel, NullProgress, Result, Verification
from solvers.treemap import KIND
from solvers.treemap.schema import TreemapInstance

SOLVER_NAMES = list(KIND.solvers)


def solve(instance: TreemapInstance, solver: str, **options: Any) -> Result:
    """Run one solver with default options (overridden by ``options``)."""
    spec = KIND.solvers[solver]
    return spec.load().solve(instance, spec.options(**options), NullProgress(), NeverCancel())


def verify(instance: TreemapInstance, solution: JSON, solver: str, **options: Any) -> Verification:
    """The check as the service runs it: with the request's options, defaults filled in."""
    return KIND.verify(instance, solution, KIND.solvers[solver].options(**options).model_dump(mode="json"))
