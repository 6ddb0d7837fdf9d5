"""Initial margin: exact for one GBM-driven trade, close to a brute-force quantile for a basket."""

from __future__ import annotations

import math
from typing import Any

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


def _nested_brute_force(raw: dict[str, Any], outer: int, inner: int, seed: int) -> dict[str, tuple[float, float]]:
    """MVA and DVA (estimate, standard error) by brute-force nested Monte Carlo for a book with variation
    margin at threshold 0 and hazard-rate parties: each outer path draws one
    date k in proportion to the adjustment's date weights, samples the spots there exactly, and takes IM as
    the empirical quantile of ``inner`` revaluations of the book after the margin period."""
    inst = parse(raw)
    setup = Setup.from_instance(inst)
    trades, rate, delta = setup.trades, inst.market.rate, inst.margin_period
    times = inst.grid()
    quantile = inst.collateral.initial_margin.quantile  # type: ignore[union-attr]
    chol = np.linalg.cholesky(np.array(inst.market.correlation))
    rng = np.random.default_rng(seed)
    hazard_c, hazard_b = inst.counterparty.default.rate, inst.bank.default.rate  # type: ignore[union-attr]
    survival = np.exp(-(hazard_c + hazard_b) * times)
    pd_bank = np.diff(1.0 - np.exp(-hazard_b * times))
    weights = {
        "mva": inst.funding.spread * np.diff(times) * survival[1:],
        "dva": (1.0 - inst.bank.recovery) * pd_bank,
    }

    def spots_after(spots: np.ndarray, span: np.ndarray, shocks: np.ndarray) -> np.ndarray:
        moved: np.ndarray = spots * np.exp(
            setup.drift * span[..., None] + setup.vol * np.sqrt(span)[..., None] * (shocks @ chol.T)
        )
        return moved

    def posted_im(spots: np.ndarray, at: np.ndarray) -> np.ndarray:
        out = np.empty(len(at))
        for p, (spot, time) in enumerate(zip(spots, at, strict=True)):
            end = min(time + delta, inst.horizon)
            later = spots_after(spot[None, :], np.full(inner, end - time), rng.standard_normal((inner, len(spot))))
            change = netting_set_value(trades, later, end, rate) - netting_set_value(trades, spot[None, :], time, rate)
            out[p] = max(-np.quantile(change, 1.0 - quantile, method="normal_unbiased"), 0.0)
        return out

    start = np.exp(setup.log_spot0)[None, :]
    n_und = len(setup.vol)
    result = {}
    for name, weight in weights.items():
        mixture = weight / weight.sum()
        k = rng.choice(len(mixture), size=outer, p=mixture) + 1
        t = times[k]
        if name == "mva":
            spots_t = spots_after(start, t, rng.standard_normal((outer, n_und)))
            contribution = np.exp(-rate * t) * posted_im(spots_t, t)
        else:
            u = np.maximum(t - delta, 0.0)
            spots_u = spots_after(start, u, rng.standard_normal((outer, n_und)))
            im_u = posted_im(spots_u, u)
            spots_t = spots_after(spots_u, t - u, rng.standard_normal((outer, n_und)))
            value = np.array(
                [netting_set_value(trades, s[None, :], time, rate)[0] for s, time in zip(spots_t, t, strict=True)]
            )
            # variation margin with threshold 0: the collateral at t_k is V(u_k)
            value_u = np.array(
                [netting_set_value(trades, s[None, :], time, rate)[0] for s, time in zip(spots_u, u, strict=True)]
            )
            contribution = np.exp(-rate * t) * np.maximum(value_u - value - im_u, 0.0)
        contribution = contribution * weight.sum()
        result[name] = (float(contribution.mean()), float(contribution.std(ddof=1) / math.sqrt(outer)))
    return result


def _book(
    raw_trades: list[dict[str, Any]], underlyings: list[dict[str, Any]], correlation: list[list[float]]
) -> dict[str, Any]:
    raw = single_trade(
        collateral={
            "threshold": 0.0,
            "minimum_transfer": 0.0,
            "margin_period_days": 10,
            "initial_margin": {"quantile": 0.99},
        },
        counterparty={"recovery": 0.4, "default": {"model": "hazard", "rate": 0.03}},
        bank={"recovery": 0.4, "default": {"model": "hazard", "rate": 0.05}},
        funding={"spread": 0.01},
        paths=4_000,
        steps=100,
        seed=5,
    )
    raw["trades"] = raw_trades
    raw["market"]["underlyings"] = underlyings
    raw["market"]["correlation"] = correlation
    return raw


def _option(name: str, kind: str, underlying: str, strike: float, quantity: float) -> dict[str, Any]:
    return {"id": name, "type": kind, "underlying": underlying, "strike": strike, "maturity": 1.0, "quantity": quantity}


ISSUE_BOOK = _book(
    [
        _option("call100", "european_call", "S1", 100.0, 1.0),
        _option("put100", "european_put", "S1", 100.0, 1.5),
        _option("put80", "european_put", "S1", 80.0, -1.0),
    ],
    [{"name": "S1", "spot": 100.0, "vol": 0.25, "dividend": 0.0}],
    [[1.0]],
)
FORWARD_PUT_BOOK = _book(
    [_option("fwd", "forward", "S1", 100.0, 2.0), _option("put", "european_put", "S2", 85.0, 3.0)],
    [
        {"name": "S1", "spot": 100.0, "vol": 0.25, "dividend": 0.0},
        {"name": "S2", "spot": 80.0, "vol": 0.35, "dividend": 0.01},
    ],
    [[1.0, 0.6], [0.6, 1.0]],
)


def test_mva_and_dva_agree_with_brute_force_nested_monte_carlo() -> None:
    # the issue-14 book mixes calls and puts on one underlying (not monotone: the old steepest-direction
    # IM gave a DVA 26 times too large); the two-underlying book needs the several-factor method
    for raw in (ISSUE_BOOK, FORWARD_PUT_BOOK):
        solution = solve(raw).solution
        assert solution is not None
        reference = _nested_brute_force(raw, outer=3_000, inner=1_500, seed=3)
        for name, (estimate, error) in reference.items():
            combined = math.hypot(error, solution["std_error"][name])
            assert abs(solution[name] - estimate) <= 3.0 * combined, (name, solution[name], estimate, combined)


def test_the_checks_brute_force_im_is_the_exact_one_factor_quantile() -> None:
    from solvers.xva.check_reference import Book, brute_force_margins, margins

    inst = parse(ISSUE_BOOK)
    book, correlation = Book.of(inst), np.array([[1.0]])
    spots, times = np.array([[70.0], [92.0], [100.0], [125.0]]), np.array([0.3, 0.5, 0.98, 0.1])
    value = netting_set_value(Setup.from_instance(inst).trades, spots, 0.0, RATE)  # any reference value
    exact = margins(inst, book, correlation, spots, times, value)
    brute = brute_force_margins(inst, book, correlation, spots, times, value, 400_000, np.random.default_rng(4))
    for got, expected in zip(brute, exact, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0.01, atol=0.02)


def test_the_check_takes_several_factor_im_by_brute_force_on_a_sample(monkeypatch: Any) -> None:
    # the check's estimate corrects its delta-gamma Cornish–Fisher IM by brute-force nested sampling on a
    # sample of (path, date) pairs: with Cornish–Fisher broken (IM 30 % low) its MVA and DVA stay right
    import solvers.xva.check_reference as reference

    inst = parse(FORWARD_PUT_BOOK)
    honest = reference.estimate(inst, 8_000, 1)
    assert honest.brute_force_pairs >= reference.MIN_BRUTE_FORCE_PAIRS
    cornish_fisher = reference._cornish_fisher

    def broken(*args: Any) -> tuple[np.ndarray, np.ndarray]:
        high, low = cornish_fisher(*args)
        middle = 0.5 * (high + low)
        return middle + 0.7 * (high - middle), middle - 0.7 * (middle - low)

    monkeypatch.setattr(reference, "_cornish_fisher", broken)
    broken_estimate = reference.estimate(inst, 8_000, 1)
    for name in ("mva", "dva"):
        error = math.hypot(honest.deviation[name], broken_estimate.deviation[name]) / math.sqrt(8_000)
        assert abs(broken_estimate.mean[name] - honest.mean[name]) <= 3.0 * error, name
    monkeypatch.setattr(reference, "MAX_BRUTE_FORCE_PAIRS", 0)
    uncorrected = reference.estimate(inst, 8_000, 1)
    assert abs(uncorrected.mean["mva"] - honest.mean["mva"]) > 10 * honest.deviation["mva"] / math.sqrt(8_000)
