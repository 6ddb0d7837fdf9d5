"""Options of the knapsack_2ro solvers (importable without native code)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions


class ExactOptions(CommonOptions):
    """Options of the branch-and-price solver."""

    node_limit: int | None = Field(
        None, ge=1, le=10_000_000, description="Stop after this many branch-and-bound nodes (none: no limit)."
    )


class NominalOptions(CommonOptions):
    """Options of the nominal baseline (only the common ones)."""
