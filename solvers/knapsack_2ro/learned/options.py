"""Options of the ``neur2ro`` solver (importable without torch or HiGHS)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions


class Neur2roOptions(CommonOptions):
    """Options of the learned column-and-constraint generation."""

    max_iterations: int = Field(
        50, ge=1, le=10_000, description="Most main problems (each proposes one selection, evaluated exactly)."
    )
    main_time_limit_s: float = Field(
        5.0, gt=0, le=3_600, description="Time limit of one main problem (the MILP with the embedded network)."
    )
    main_rel_gap: float = Field(
        1e-2,
        ge=0,
        le=1,
        description="Relative gap at which a main problem stops (the network is only accurate to about 1 %).",
    )
    learned_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description=(
            "Share of the time limit for the learned loop; the rest goes to branch-and-price started from "
            "every selection the loop certified (1: no search phase)."
        ),
    )
