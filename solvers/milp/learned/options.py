"""Options of the ``predict_and_search`` solver (importable without numpy models or native libraries)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from solvers.base import CommonOptions
from solvers.milp.generate import Family


class PredictAndSearchOptions(CommonOptions):
    """Which model predicts, how large the trust region is, and how the time is split between the phases."""

    model: Family | None = Field(
        None,
        description="The family model that predicts; by default the one whose family the instance's structure "
        "is recognised as (an instance no model fits is solved by HiGHS on the full model, with the reason in "
        "stats.fallback).",
    )
    fixed_zeros: float | None = Field(
        None,
        ge=0,
        le=1,
        description="k0 as a share of the binaries: the most likely zeros put in the trust region "
        "(default: the model's own setting).",
    )
    fixed_ones: float | None = Field(
        None, ge=0, le=1, description="k1 as a share of the binaries: the most likely ones in the trust region."
    )
    delta: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Δ as a share of k0 + k1: how many of the fixed binaries may flip in the restricted phase.",
    )
    widening: float = Field(
        0.75,
        gt=0,
        le=1,
        description="When HiGHS closes the restricted model before its time is up, the share of S0 kept for the "
        "next, wider restricted model (the least likely ones stay); 1 solves one restricted model only.",
    )
    restricted_time_share: float = Field(
        0.5, gt=0, le=1, description="Most of the time limit the restricted (trust-region) phase may take."
    )
    restricted_time_cap_s: float = Field(
        5.0,
        gt=0,
        description="Most seconds the restricted phase may take, whatever the time limit: past it the full model "
        "gains more from the time than further restricted models do.",
    )
    presolve: Literal["choose", "on", "off"] = Field("choose", description="HiGHS presolve setting (both phases).")
