"""Shared helpers for the treemap tests."""

from __future__ import annotations

from typing import Any

from solvers.base import NeverCancel, NullProgress, Result
from solvers.treemap import KIND
from solvers.treemap.schema import TreemapInstance

SOLVER_NAMES = list(KIND.solvers)


def solve(instance: TreemapInstance, solver: str, **options: Any) -> Result:
    """Run one solver with default options (overridden by ``options``)."""
    spec = KIND.solvers[solver]
    return spec.load().solve(instance, spec.options(**options), NullProgress(), NeverCancel())
