"""Options of the xva solvers (importable without native code)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from solvers.base import CommonOptions


class MonteCarloOptions(CommonOptions):
    """Options of the ``monte_carlo`` solver; the number of paths and steps is in the instance."""

    unused_common: ClassVar[frozenset[str]] = frozenset({"rel_gap", "threads"})  # no bound, one process

    antithetic: bool = Field(True, description="Antithetic paths (each normal draw also used negated).")
    default_probabilities: Literal["exact", "simulated"] = Field(
        "exact",
        description="exact: closed-form PD (hazard, Black–Cox); simulated: structural defaults simulated "
        "per path with the Brownian-bridge correction (hazard defaults stay exact).",
    )
    importance_sampling: bool = Field(
        True,
        description="With simulated structural defaults, shift the asset's drift so defaults are frequent.",
    )
    chunk_paths: int | None = Field(
        None,
        ge=4,
        le=100_000,
        description="Paths per chunk (memory); default: chosen from the instance's size.",
    )
