"""Monte Carlo estimates against closed forms: within 3 standard errors (fixed seeds)."""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.stats import norm

from tests.solvers.xva.helpers import black_cox_cdf, black_scholes, single_trade, solve

RATE, VOL, SPOT = 0.01, 0.25, 100.0
UNCOLLATERALISED = {
    "threshold": None,
    "minimum_transfer": 0.0,
    "margin_period_days": 10,
    "initial_margin": None,
}


def test_single_long_call_cva_is_recovery_times_price_times_default_probability() -> None:
    raw = single_trade(collateral=UNCOLLATERALISED)
    result = solve(raw)
    solution = result.solution
    assert solution is not None
    price = black_scholes("call", SPOT, 100.0, 1.0, RATE, 0.0, VOL)
    exact = 0.6 * price * (1 - math.exp(-0.02 * 1.0))
    assert abs(solution["cva"] - exact) <= 3 * solution["std_error"]["cva"]
    assert 0 < solution["std_error"]["cva"] < 0.01 * exact
    assert solution["dva"] == 0.0
    assert result.objective == solution["cva"]
    epe = np.array(solution["exposure"]["epe"])
    se = np.array(solution["exposure"]["epe_std_error"])
    assert abs(epe[0] - price) < 1e-9
    assert np.all(np.abs(epe - price) <= 4 * se + 1e-9)


def test_structural_counterparty_cva_uses_the_black_cox_default_probability() -> None:
    structural = {"model": "structural", "asset": 100.0, "vol": 0.3, "barrier": 70.0}
    raw = single_trade(collateral=UNCOLLATERALISED, counterparty={"recovery": 0.3, "default": structural})
    solution = solve(raw).solution
    assert solution is not None
    price = black_scholes("call", SPOT, 100.0, 1.0, RATE, 0.0, VOL)
    exact = 0.7 * price * black_cox_cdf(100.0, 70.0, 0.3, RATE, 1.0)
    assert abs(solution["cva"] - exact) <= 3 * solution["std_error"]["cva"]


def test_simulated_structural_defaults_give_the_same_cva_and_fva_within_their_standard_error() -> None:
    structural = {"model": "structural", "asset": 100.0, "vol": 0.2, "barrier": 50.0}
    raw = single_trade(collateral=UNCOLLATERALISED, counterparty={"recovery": 0.4, "default": structural})
    price = black_scholes("call", SPOT, 100.0, 1.0, RATE, 0.0, VOL)
    exact_cva = 0.6 * price * black_cox_cdf(100.0, 50.0, 0.2, RATE, 1.0)
    times = np.linspace(0.0, 1.0, 51)[:-1]
    survival = [
        (1 - black_cox_cdf(100.0, 50.0, 0.2, RATE, t)) * (1 - black_cox_cdf(100.0, 50.0, 0.2, RATE, t))
        if t > 0
        else 1.0
        for t in times
    ]
    exact_fva = -0.01 * price * 0.02 * float(np.sum(survival))
    errors = {}
    for importance in (True, False):
        solution = solve(raw, default_probabilities="simulated", importance_sampling=importance).solution
        assert solution is not None
        assert abs(solution["cva"] - exact_cva) <= 3 * solution["std_error"]["cva"]
        assert abs(solution["fva"] - exact_fva) <= 3 * solution["std_error"]["fva"]
        errors[importance] = solution["std_error"]
    assert errors[True]["cva"] < 0.2 * errors[False]["cva"]
    assert errors[True]["fva"] < 2 * errors[False]["fva"]


def test_short_call_dva_mirrors_cva_with_the_bank_default() -> None:
    raw = single_trade(
        quantity=-2.0,
        collateral=UNCOLLATERALISED,
        bank={"recovery": 0.25, "default": {"model": "hazard", "rate": 0.05}},
    )
    solution = solve(raw).solution
    assert solution is not None
    price = black_scholes("call", SPOT, 100.0, 1.0, RATE, 0.0, VOL)
    exact = 0.75 * 2 * price * (1 - math.exp(-0.05))
    assert abs(solution["dva"] - exact) <= 3 * solution["std_error"]["dva"]
    assert solution["cva"] == 0.0


def _forward_exposure(t: float, maturity: float, strike: float, dividend: float) -> tuple[float, float]:
    """EPE and ENE of a long forward at t: e^{−qτ}·call/put on S_t with strike K·e^{−(r−q)τ}, τ = T − t."""
    tau = maturity - t
    if t == 0.0:
        value = SPOT * math.exp(-dividend * tau) - strike * math.exp(-RATE * tau)
        return max(value, 0.0), max(-value, 0.0)
    shifted = strike * math.exp(-(RATE - dividend) * tau)
    scale = math.exp(-dividend * tau)
    return (
        scale * black_scholes("call", SPOT, shifted, t, RATE, dividend, VOL),
        scale * black_scholes("put", SPOT, shifted, t, RATE, dividend, VOL),
    )


def test_forward_exposure_profiles_cva_dva_and_fva_match_their_closed_forms() -> None:
    dividend, strike, maturity, steps = 0.02, 105.0, 2.0, 40
    raw = single_trade(
        "forward",
        strike=strike,
        maturity=maturity,
        steps=steps,
        collateral=UNCOLLATERALISED,
        funding={"spread": 0.015},
    )
    raw["market"]["underlyings"][0]["dividend"] = dividend
    solution = solve(raw).solution
    assert solution is not None
    times = np.linspace(0.0, maturity, steps + 1)
    exact = np.array([_forward_exposure(t, maturity, strike, dividend) for t in times])
    exposure = solution["exposure"]
    assert np.all(np.abs(np.array(exposure["epe"]) - exact[:, 0]) <= 4 * np.array(exposure["epe_std_error"]) + 1e-9)
    assert np.all(np.abs(np.array(exposure["ene"]) - exact[:, 1]) <= 4 * np.array(exposure["ene_std_error"]) + 1e-9)
    pd_c = np.diff(1 - np.exp(-0.02 * times))
    bank_cdf = np.array([0.0] + [black_cox_cdf(100.0, 50.0, 0.2, RATE, t) for t in times[1:]])
    cva = 0.6 * float(np.sum(exact[1:, 0] * pd_c))
    dva = 0.6 * float(np.sum(exact[1:, 1] * np.diff(bank_cdf)))
    assert abs(solution["cva"] - cva) <= 3 * solution["std_error"]["cva"]
    assert abs(solution["dva"] - dva) <= 3 * solution["std_error"]["dva"]
    value_today = SPOT * math.exp(-dividend * maturity) - strike * math.exp(-RATE * maturity)
    survival = np.exp(-0.02 * times) * (1 - bank_cdf)
    fva = -0.015 * value_today * float(np.sum(np.diff(times) * survival[:-1]))
    assert abs(solution["fva"] - fva) <= 3 * solution["std_error"]["fva"] + 1e-12


def test_full_collateral_without_margin_period_leaves_no_exposure() -> None:
    csa = {"threshold": 0.0, "minimum_transfer": 0.0, "margin_period_days": 0, "initial_margin": None}
    solution = solve(single_trade(collateral=csa, paths=2_000)).solution
    assert solution is not None
    assert solution["cva"] == 0.0 and solution["dva"] == 0.0
    assert max(solution["exposure"]["epe"]) < 1e-12 and max(solution["exposure"]["pfe"]) < 1e-12


def _lagged_forward_epe(t: float, u: float, maturity: float, strike: float) -> float:
    """E[D_t (V_t − V_u)⁺] of a long forward (q = 0, zero threshold) by Gauss–Hermite over S_u."""
    nodes, weights = hermegauss(80)
    weights = weights / weights.sum()
    s_u = SPOT * np.exp((RATE - 0.5 * VOL**2) * u + VOL * math.sqrt(u) * nodes) if u > 0 else np.array([SPOT])
    w = weights if u > 0 else np.array([1.0])
    h = t - u
    level = s_u - strike * math.exp(-RATE * (maturity - u)) + strike * math.exp(-RATE * (maturity - t))
    forward = s_u * math.exp(RATE * h)
    sd = VOL * math.sqrt(h)
    d1 = (np.log(forward / level) + 0.5 * sd**2) / sd
    call = forward * norm.cdf(d1) - level * norm.cdf(d1 - sd)
    return float(math.exp(-RATE * t) * np.sum(w * call))


def test_lagged_collateral_on_a_forward_matches_the_conditional_closed_form() -> None:
    days, maturity, strike, steps = 20, 1.0, 100.0, 25
    csa = {"threshold": 0.0, "minimum_transfer": 0.0, "margin_period_days": days, "initial_margin": None}
    raw = single_trade("forward", strike=strike, maturity=maturity, steps=steps, collateral=csa)
    raw["market"]["underlyings"][0]["dividend"] = 0.0
    solution = solve(raw).solution
    assert solution is not None
    times = np.linspace(0.0, maturity, steps + 1)
    delta = days / 365
    exact = np.array([0.0] + [_lagged_forward_epe(t, max(t - delta, 0.0), maturity, strike) for t in times[1:]])
    epe = np.array(solution["exposure"]["epe"])
    assert np.all(np.abs(epe - exact) <= 4 * np.array(solution["exposure"]["epe_std_error"]) + 1e-9)
    cva = 0.6 * float(np.sum(exact[1:] * np.diff(1 - np.exp(-0.02 * times))))
    assert abs(solution["cva"] - cva) <= 3 * solution["std_error"]["cva"]


def test_threshold_without_margin_period_caps_a_forward_exposure_in_closed_form() -> None:
    threshold, strike, maturity, steps = 5.0, 100.0, 1.0, 20
    csa = {"threshold": threshold, "minimum_transfer": 0.0, "margin_period_days": 0, "initial_margin": None}
    raw = single_trade("forward", strike=strike, maturity=maturity, steps=steps, collateral=csa)
    solution = solve(raw).solution
    assert solution is not None
    times = np.linspace(0.0, maturity, steps + 1)
    exact = [max(min(SPOT - strike * math.exp(-RATE * maturity), threshold), 0.0)]
    for t in times[1:]:
        level = strike * math.exp(-RATE * (maturity - t))
        exact.append(
            black_scholes("call", SPOT, level, t, RATE, 0.0, VOL)
            - black_scholes("call", SPOT, level + threshold, t, RATE, 0.0, VOL)
        )
    epe, se = np.array(solution["exposure"]["epe"]), np.array(solution["exposure"]["epe_std_error"])
    assert np.all(np.abs(epe - np.array(exact)) <= 4 * se + 1e-9)
    cva = 0.6 * float(np.sum(np.array(exact[1:]) * np.diff(1 - np.exp(-0.02 * times))))
    assert abs(solution["cva"] - cva) <= 3 * solution["std_error"]["cva"]


def test_pfe_of_a_long_call_is_the_discounted_price_at_the_spot_quantile() -> None:
    raw = single_trade(collateral=UNCOLLATERALISED, steps=20)
    solution = solve(raw).solution
    assert solution is not None
    z = norm.ppf(0.975)
    exact = []
    for t in np.linspace(0.0, 1.0, 21):
        spot = SPOT * math.exp((RATE - 0.5 * VOL**2) * t + VOL * math.sqrt(t) * z)
        value = black_scholes("call", spot, 100.0, 1.0 - t, RATE, 0.0, VOL) if t < 1.0 else max(spot - 100.0, 0.0)
        exact.append(math.exp(-RATE * t) * value)
    pfe, se = np.array(solution["exposure"]["pfe"]), np.array(solution["exposure"]["pfe_std_error"])
    assert np.all(se[1:] > 0)
    assert np.all(np.abs(pfe - np.array(exact)) <= 4 * se + 1e-6)
