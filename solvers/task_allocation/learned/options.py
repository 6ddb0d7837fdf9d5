"""Options of the ``learned`` solver (importable without torch)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions


class LearnedOptions(CommonOptions):
    """Options of the trained two-stage policy and its search."""

    anneal_chains: int = Field(
        20,
        ge=0,
        le=100_000,
        description="Annealing chains guided by the policy: the first from its argmax pre-assignment, each later "
        "one from the best allocation so far (0: skip annealing).",
    )
    anneal_moves_per_agent: int = Field(
        500,
        ge=1,
        le=1_000_000,
        description="Moves of one annealing chain per agent of the instance, times tasks / 16 (rounded) on "
        "instances with more tasks (a move sends one agent to another task or swaps two agents; 30–80 ns each "
        "on the development machine).",
    )
    improvement_steps: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Most policy-guided neighbourhood steps after the annealing (they found nothing the annealing "
        "had not on the development instances, hence off by default).",
    )
    stall_steps: int = Field(
        4,
        ge=1,
        le=1_000_000,
        description="Stop improving after this many steps without a better allocation (the local search "
        "has converged).",
    )
    neighbourhood_top_k: int = Field(
        0,
        ge=0,
        le=1000,
        description="Tasks per agent (by policy score) in the first neighbourhood MILP solved by HiGHS after "
        "the local search, doubled each time HiGHS proves a neighbourhood's best (0, the default: skip that step; "
        "3 brings the mean gap from about 0.8 % to 0.3 % for about 20 times the time).",
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
