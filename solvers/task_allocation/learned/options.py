"""Options of the ``learned`` solver (importable without torch)."""

from __future__ import annotations

from pydantic import Field

from solvers.base import CommonOptions


class LearnedOptions(CommonOptions):
    """Options of the trained two-stage policy and its search."""

    rollouts: int = Field(
        4, ge=1, le=100_000, description="Decodes of the policy: its argmax, then samples (each repaired)."
    )
    neighbourhood_top_k: int = Field(
        3,
        ge=0,
        le=1000,
        description="Tasks per agent (by policy score) in the neighbourhood solved by HiGHS after the rollouts "
        "(0: skip that step).",
    )
    neighbourhood_time_limit_s: float = Field(
        1.0, gt=0, le=86_400, description="Most seconds for the neighbourhood solve (also bounded by time_limit_s)."
    )
    improvement_steps: int = Field(
        50, ge=0, le=1_000_000, description="Most policy-guided neighbourhood steps after the rollouts."
    )
    stall_steps: int = Field(
        10, ge=1, le=1_000_000, description="Stop improving after this many steps without a better allocation."
    )
    temperature: float = Field(
        1.0, gt=0, le=100, description="Sampling temperature of the policy (below 1: closer to its argmax)."
    )
