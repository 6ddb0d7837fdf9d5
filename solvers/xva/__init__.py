"""The ``xva`` kind: Monte Carlo valuation adjustments (CVA, DVA, FVA, MVA, ColVA) of a netting set.

Importing this module loads no solver back-end: the API process only validates with it.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from solvers.base import Kind, SolverSpec
from solvers.xva.check import check
from solvers.xva.options import DeepBsdeOptions, MonteCarloOptions
from solvers.xva.schema import Instance, parse, summary
from solvers.xva.svg import render_svg


class _Adjustments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cva: float
    dva: float
    fva: float
    mva: float
    colva: float


class ExposureProfile(BaseModel):
    """Discounted exposure profiles on the grid t_0 … t_N."""

    times: list[float]
    epe: list[float] = Field(description="E[D_k (V_k − C_k − IM_received)⁺]")
    ene: list[float] = Field(description="E[D_k (C_k − V_k − IM_posted)⁺], reported ≥ 0")
    pfe: list[float] = Field(description="97.5 % quantile of D_k (V_k − C_k − IM_received)⁺")
    epe_std_error: list[float] | None = None
    pfe_std_error: list[float] | None = Field(None, description="order-statistic estimate (approximate)")
    ene_std_error: list[float] | None = None
    expected_value: list[float] | None = Field(None, description="E[D_k (V_k − C_k)] (enters FVA)")
    expected_value_std_error: list[float] | None = None
    expected_im_posted: list[float] | None = Field(None, description="E[D_k IM_posted(t_k)] (enters MVA)")


class Solution(_Adjustments):
    """The xva solution: adjustments, their standard errors and the exposure profiles."""

    std_error: _Adjustments
    exposure: ExposureProfile
    paths: int | None = Field(None, description="Paths simulated (fewer than requested when stopped early).")
    antithetic: bool | None = None
    default_probabilities: str | None = Field(None, description="exact | simulated")


EXAMPLE: dict[str, Any] = {
    "market": {
        "rate": 0.01,
        "underlyings": [{"name": "S1", "spot": 100, "vol": 0.25, "dividend": 0.0}],
        "correlation": [[1.0]],
    },
    "trades": [
        {
            "id": "t1",
            "type": "european_call",
            "underlying": "S1",
            "strike": 100,
            "maturity": 1.0,
            "quantity": 1.0,
        }
    ],
    "collateral": {
        "threshold": None,
        "minimum_transfer": 0.0,
        "margin_period_days": 10,
        "initial_margin": None,
    },
    "counterparty": {"recovery": 0.4, "default": {"model": "hazard", "rate": 0.02}},
    "bank": {"recovery": 0.4, "default": {"model": "structural", "asset": 100, "vol": 0.2, "barrier": 50}},
    "funding": {"spread": 0.01},
    "simulation": {"paths": 20000, "steps": 100, "seed": 1},
}

SOLVERS = {
    "monte_carlo": SolverSpec(
        name="monte_carlo",
        exact=False,
        learned=False,
        description="Chunked Monte Carlo on correlated GBM paths with closed-form pricing on the grid, "
        "lagged collateral, initial margin, antithetic paths; standard errors for every number.",
        options=MonteCarloOptions,
        target="solvers.xva.monte_carlo:MonteCarloSolver",
    ),
    "deep_bsde": SolverSpec(
        name="deep_bsde",
        exact=False,
        learned=True,
        description="Multi-layer deep BSDE (Andersson & Gnoatto 2025), trained per job with PyTorch on the CPU: "
        "clean values, IM by quantile regression, then CVA/DVA/MVA/FVA on fresh paths with standard errors. "
        "Needs the 'learned' extra.",
        options=DeepBsdeOptions,
        target="solvers.xva.deep_bsde:DeepBsdeSolver",
        library="torch",
    ),
}

#: The optional dependency group that installs PyTorch for ``deep_bsde``.
LEARNED_EXTRA = "learned"


def _refusal(_: Instance, solver: str) -> str | None:
    """deep_bsde needs PyTorch, an optional extra: without it the request is refused (422), not failed."""
    if solver == "deep_bsde" and importlib.util.find_spec("torch") is None:
        return (
            f"solver 'deep_bsde' needs PyTorch, which this server does not have: install the "
            f"{LEARNED_EXTRA!r} extra (pip install 'solvent[{LEARNED_EXTRA}]') or use solver 'monte_carlo'"
        )
    return None


KIND = Kind(
    name="xva",
    title="Valuation adjustments of a netting set",
    description="CVA, DVA, FVA, MVA and ColVA of calls, puts and forwards on correlated GBM underlyings, "
    "with collateral (threshold, minimum transfer, margin period), initial margin and hazard or structural "
    "default.",
    sense="minimize",
    parse=parse,
    check=check,
    summary=summary,
    solvers=SOLVERS,
    default_solver="monte_carlo",
    instance_schema=Instance.model_json_schema(),
    result_schema=Solution.model_json_schema(),
    example=EXAMPLE,
    render_svg=render_svg,
    refusal=_refusal,
)
