"""Initial margin: exact for one GBM-driven trade, close to a brute-force quantile for a basket."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from solvers.xva.engine import Setup, initial_margin
from solvers.xva.pricing import netting_set_value
from solvers.xva.schema import parse
from tests.solvers.xva.helpers import black_scholes, single_trade, solve

RATE, VOL, QUANTILE, DAYS = 0.01, 0.25, 0.99, 10


def _im_instance(trade_type: str, quantity: float) -> Setup:
    csa = {
        "threshold": None,
        "minimum_transfer": 0.0,
        "margin_period_days": DAYS,
        "initial_margin": {"quantile": QUANTILE},
    }
    return Setup.from_instance(parse(single_trade(trade_type, quantity=quantity, collateral=csa)))


def test_single_trade_initial_margin_is_the_exact_quantile_of_the_value_change() -> None:
    delta = DAYS / 365
    z = norm.ppf(QUANTILE)
    spots = np.array([[60.0], [95.0], [100.0], [130.0]])
    for trade_type, kind in (("european_call", "call"), ("european_put", "put")):
        for quantity in (1.0, -3.0):
            setup = _im_instance(trade_type, quantity)
            for time in (0.0, 0.5):
                value = netting_set_value(setup.trades, spots, time, RATE)
                received, posted = initial_margin(setup, spots, time, value)
                for i, spot in enumerate(spots[:, 0]):
                    moves = spot * np.exp((RATE - 0.5 * VOL**2) * delta + VOL * math.sqrt(delta) * np.array([z, -z]))
                    later = [
                        quantity * black_scholes(kind, s, 100.0, 1.0 - time - delta, RATE, 0.0, VOL) for s in moves
                    ]
                    changes = np.array(later) - value[i]
                    assert math.isclose(received[i], max(changes.max(), 0.0), rel_tol=1e-9, abs_tol=1e-12)
                    assert math.isclose(posted[i], max(-changes.min(), 0.0), rel_tol=1e-9, abs_tol=1e-12)


def test_initial_margin_reduces_exposure_at_t0_by_the_exact_quantile() -> None:
    csa = {
        "threshold": None,
        "minimum_transfer": 0.0,
        "margin_period_days": DAYS,
        "initial_margin": {"quantile": QUANTILE},
    }
    solution = solve(single_trade(collateral=csa, paths=2_000, steps=20)).solution
    assert solution is not None
    delta = DAYS / 365
    today = black_scholes("call", 100.0, 100.0, 1.0, RATE, 0.0, VOL)
    up = 100.0 * math.exp((RATE - 0.5 * VOL**2) * delta + VOL * math.sqrt(delta) * norm.ppf(QUANTILE))
    received = black_scholes("call", up, 100.0, 1.0 - delta, RATE, 0.0, VOL) - today
    assert math.isclose(solution["exposure"]["epe"][0], max(today - received, 0.0), rel_tol=1e-9)
    down = 100.0 * math.exp((RATE - 0.5 * VOL**2) * delta - VOL * math.sqrt(delta) * norm.ppf(QUANTILE))
    posted = today - black_scholes("call", down, 100.0, 1.0 - delta, RATE, 0.0, VOL)
    assert math.isclose(solution["exposure"]["expected_im_posted"][0], posted, rel_tol=1e-9)
    assert solution["mva"] > 0.0


def test_basket_initial_margin_is_close_to_a_brute_force_quantile() -> None:
    raw = single_trade(
        "forward",
        quantity=2.0,
        collateral={
            "threshold": None,
            "minimum_transfer": 0.0,
            "margin_period_days": DAYS,
            "initial_margin": {"quantile": QUANTILE},
        },
    )
    raw["market"]["underlyings"] = [
        {"name": "S1", "spot": 100.0, "vol": 0.25, "dividend": 0.0},
        {"name": "S2", "spot": 80.0, "vol": 0.35, "dividend": 0.01},
    ]
    raw["market"]["correlation"] = [[1.0, 0.6], [0.6, 1.0]]
    raw["trades"].append(
        {
            "id": "t2",
            "type": "european_put",
            "underlying": "S2",
            "strike": 85.0,
            "maturity": 1.0,
            "quantity": 3.0,
        }
    )
    setup = Setup.from_instance(parse(raw))
    spots = np.array([[100.0, 80.0]])
    value = netting_set_value(setup.trades, spots, 0.0, RATE)
    received, posted = initial_margin(setup, spots, 0.0, value)
    delta = DAYS / 365
    shocks = (
        np.random.default_rng(11).standard_normal((400_000, 2))
        @ np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 1.0]])).T
    )
    later_spots = spots * np.exp(setup.drift * delta + setup.vol * math.sqrt(delta) * shocks)
    changes = netting_set_value(setup.trades, later_spots, delta, RATE) - value[0]
    assert math.isclose(received[0], np.quantile(changes, QUANTILE), rel_tol=0.03)
    assert math.isclose(posted[0], -np.quantile(changes, 1 - QUANTILE), rel_tol=0.03)
