"""Shared builders and independent closed forms for the xva tests."""

from __future__ import annotations

import copy
import math
from typing import Any

from scipy.stats import norm

from solvers.base import NeverCancel, NullProgress, Result
from solvers.xva import EXAMPLE, KIND
from solvers.xva.monte_carlo import MonteCarloSolver
from solvers.xva.options import MonteCarloOptions


def single_trade(
    trade_type: str = "european_call",
    quantity: float = 1.0,
    strike: float = 100.0,
    maturity: float = 1.0,
    paths: int = 20_000,
    steps: int = 50,
    seed: int = 7,
    **sections: Any,
) -> dict[str, Any]:
    """The API example with one trade and the given top-level sections replaced."""
    raw = copy.deepcopy(EXAMPLE)
    raw["trades"] = [
        {
            "id": "t1",
            "type": trade_type,
            "underlying": "S1",
            "strike": strike,
            "maturity": maturity,
            "quantity": quantity,
        }
    ]
    raw["simulation"] = {"paths": paths, "steps": steps, "seed": seed}
    raw.update(sections)
    return raw


def solve(raw: dict[str, Any], **options: Any) -> Result:
    """Parse and solve with the monte_carlo solver; assert the solution passes check()."""
    inst = KIND.parse(raw)
    result = MonteCarloSolver().solve(inst, MonteCarloOptions(**options), NullProgress(), NeverCancel())
    assert result.solution is not None
    verification = KIND.check(inst, result.solution)
    assert verification.feasible, verification.message
    # the service fails a job whose claimed objective differs from the verified one by more than 1e-6
    assert verification.objective is not None and result.objective is not None
    assert abs(verification.objective - result.objective) <= 1e-6 * max(1.0, abs(verification.objective))
    return result


def black_scholes(kind: str, spot: float, strike: float, tau: float, rate: float, dividend: float, vol: float) -> float:
    """Black–Scholes call or put price (written independently of solvers.xva.pricing)."""
    forward = spot * math.exp(-dividend * tau)
    discounted_strike = strike * math.exp(-rate * tau)
    d1 = (math.log(forward / discounted_strike) + 0.5 * vol**2 * tau) / (vol * math.sqrt(tau))
    d2 = d1 - vol * math.sqrt(tau)
    if kind == "call":
        return float(forward * norm.cdf(d1) - discounted_strike * norm.cdf(d2))
    return float(discounted_strike * norm.cdf(-d2) - forward * norm.cdf(-d1))


def black_cox_cdf(asset: float, barrier: float, vol: float, rate: float, t: float) -> float:
    """P(min over [0, t] of X < barrier) for X = asset·exp((r − s²/2)t + sW)."""
    nu = rate - 0.5 * vol**2
    b = math.log(barrier / asset)
    sd = vol * math.sqrt(t)
    return float(norm.cdf((b - nu * t) / sd) + math.exp(2 * nu * b / vol**2) * norm.cdf((b + nu * t) / sd))
