"""Options of the ``learned`` solver (importable without torch)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions


class LearnedOptions(CommonOptions):
    """Options of the trained two-stage policy and its search."""

    samples: int = Field(
        64,
        ge=0,
        le=100_000,
        description="Stage-1 samples of the policy drawn at once besides its argmax, each valued by its pools "
        "as drawn (vectorised) to pick which are decoded.",
    )
    rollouts: int = Field(
        4,
        ge=1,
        le=100_000,
        description="Pre-assignments decoded into feasible allocations (repair, pruning, greedy fill): the "
        "argmax, then the best-valued samples.",
    )
    improvement_steps: int = Field(
        200, ge=0, le=1_000_000, description="Most policy-guided neighbourhood steps after the rollouts."
    )
    stall_steps: int = Field(
        4,
        ge=1,
        le=1_000_000,
        description="Stop improving after this many steps without a better allocation (the local search "
        "has converged).",
    )
    neighbourhood_top_k: int = Field(
        3,
        ge=0,
        le=1000,
        description="Tasks per agent (by policy score) in the first neighbourhood MILP solved by HiGHS after "
        "the local search, doubled each time HiGHS proves a neighbourhood's best (0: skip that step).",
    )
    neighbourhood_time_limit_s: float = Field(
        1.0,
        gt=0,
        le=86_400,
        description="Most seconds for the neighbourhood solves together (also bounded by time_limit_s).",
    )
    window_tasks: int = Field(
        16,
        ge=0,
        le=1000,
        description="Tasks in the first window of the large-neighbourhood search that follows on instances with "
        "more tasks than this: a window (tasks the policy relates, their agents and the free agents it wants "
        "there) is re-solved by HiGHS while the rest stays; the size grows when HiGHS proves windows fast and "
        "shrinks when it runs out of time (0: skip that step).",
    )
    window_time_limit_s: float = Field(
        0.5, gt=0, le=86_400, description="Most seconds per window solve (also bounded by time_limit_s)."
    )
    window_stall: int = Field(
        30,
        ge=1,
        le=1_000_000,
        description="Stop the window search after this many windows in a row without a better allocation.",
    )
    temperature: float = Field(
        1.0, gt=0, le=100, description="Sampling temperature of the policy (below 1: closer to its argmax)."
    )
