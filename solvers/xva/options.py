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


class DeepBsdeOptions(CommonOptions):
    """Options of the ``deep_bsde`` solver: training sizes and budget, and the evaluation's Monte Carlo."""

    unused_common: ClassVar[frozenset[str]] = frozenset({"rel_gap"})  # no bound

    antithetic: bool = Field(True, description="Antithetic evaluation paths (each normal draw also used negated).")
    default_probabilities: Literal["exact", "simulated"] = Field(
        "exact", description="As for monte_carlo: closed-form PD, or structural defaults simulated per path."
    )
    importance_sampling: bool = Field(
        True, description="With simulated structural defaults, shift the asset's drift so defaults are frequent."
    )
    training_paths: int = Field(2_048, ge=64, le=65_536, description="Paths per underlying that train layer 1.")
    value_steps: int = Field(
        600, ge=2, le=100_000, description="Adam steps of layer 1 (clean values), half without and half with Z."
    )
    quantile_steps: int = Field(1_500, ge=1, le=100_000, description="Adam steps of layer 2 (initial margin).")
    quantile_samples: int = Field(
        131_072, ge=1_024, le=2_097_152, description="(state, shock) samples that train layer 2."
    )
    hidden: int = Field(32, ge=4, le=256, description="Width of the two hidden layers of every network.")
    batch: int = Field(
        1_024,
        ge=32,
        le=65_536,
        description="Samples per Adam step (layer 1: shared over the trade groups, at least 128 each).",
    )
    learning_rate: float = Field(3e-3, gt=0, le=1.0, description="Adam's step size (cosine-annealed to 0).")
    replicas: int = Field(
        8,
        ge=1,
        le=16,
        description="Independently trained copies of the networks, each valuing an equal share of the evaluation "
        "paths; the spread of their estimates enters the standard errors (the networks' error). With 1 the "
        "standard errors cover the evaluation's sampling only.",
    )
    training_share: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="Share of time_limit_s that training may use; training stops there (stats say so).",
    )
