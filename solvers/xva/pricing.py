"""Closed-form prices and deltas of the trades (Black–Scholes with dividend yield; forwards), vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from solvers.xva.schema import Instance

CALL, PUT, FORWARD = 0, 1, 2
TYPE_CODES = {"european_call": CALL, "european_put": PUT, "forward": FORWARD}
#: Times to maturity within this many years of 0 count as "on the maturity date" (value = payoff).
TAU_EPS = 1e-10


@dataclass(frozen=True)
class TradeTable:
    """The trades as parallel arrays (one entry per trade), with their underlyings' parameters."""

    code: np.ndarray
    underlying: np.ndarray
    strike: np.ndarray
    maturity: np.ndarray
    quantity: np.ndarray
    vol: np.ndarray
    dividend: np.ndarray

    @classmethod
    def from_instance(cls, inst: Instance) -> TradeTable:
        """Build the table from a parsed instance."""
        index = inst.underlying_index()
        unds = inst.market.underlyings
        und = np.array([index[t.underlying] for t in inst.trades], dtype=np.intp)
        return cls(
            code=np.array([TYPE_CODES[t.type] for t in inst.trades], dtype=np.int8),
            underlying=und,
            strike=np.array([t.strike for t in inst.trades], dtype=np.float64),
            maturity=np.array([t.maturity for t in inst.trades], dtype=np.float64),
            quantity=np.array([t.quantity for t in inst.trades], dtype=np.float64),
            vol=np.array([unds[i].vol for i in und], dtype=np.float64),
            dividend=np.array([unds[i].dividend for i in und], dtype=np.float64),
        )


def unit_prices(table: TradeTable, spot: np.ndarray, tau: np.ndarray | float, rate: float) -> np.ndarray:
    """Price of one unit of each trade given its underlying's spot (shape (…, trades)) and time to maturity.

    τ > 0: Black–Scholes / forward price; τ = 0 (within TAU_EPS): the payoff; τ < 0 (matured): 0.
    """
    tau_arr = np.broadcast_to(
        np.asarray(tau, dtype=np.float64), np.broadcast_shapes(np.shape(tau), spot.shape)
    )
    alive = tau_arr > TAU_EPS
    tau_pos = np.where(alive, tau_arr, 1.0)
    code = table.code
    strike = table.strike
    fwd = spot * np.exp(-table.dividend * tau_pos)
    pv_strike = strike * np.exp(-rate * tau_pos)
    is_option = code != FORWARD
    sig_sqrt = table.vol * np.sqrt(tau_pos)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(fwd / np.where(is_option, pv_strike, 1.0)) / sig_sqrt + 0.5 * sig_sqrt
    call = fwd * ndtr(d1) - pv_strike * ndtr(d1 - sig_sqrt)
    forward = fwd - pv_strike
    price = np.where(code == CALL, call, np.where(code == PUT, call - forward, forward))
    payoff = np.where(
        code == CALL,
        np.maximum(spot - strike, 0.0),
        np.where(code == PUT, np.maximum(strike - spot, 0.0), spot - strike),
    )
    expiring = np.abs(tau_arr) <= TAU_EPS
    out: np.ndarray = np.where(alive, price, np.where(expiring, payoff, 0.0))
    return out


def unit_deltas(table: TradeTable, spot: np.ndarray, tau: np.ndarray | float, rate: float) -> np.ndarray:
    """∂price/∂spot of one unit of each trade (the payoff's slope on the maturity date, 0 afterwards)."""
    tau_arr = np.broadcast_to(
        np.asarray(tau, dtype=np.float64), np.broadcast_shapes(np.shape(tau), spot.shape)
    )
    alive = tau_arr > TAU_EPS
    tau_pos = np.where(alive, tau_arr, 1.0)
    code = table.code
    disc_q = np.exp(-table.dividend * tau_pos)
    sig_sqrt = table.vol * np.sqrt(tau_pos)
    is_option = code != FORWARD
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (
            np.log(spot * disc_q / np.where(is_option, table.strike * np.exp(-rate * tau_pos), 1.0))
            / sig_sqrt
            + 0.5 * sig_sqrt
        )
    call_delta = disc_q * ndtr(d1)
    delta = np.where(code == CALL, call_delta, np.where(code == PUT, call_delta - disc_q, disc_q))
    payoff_slope = np.where(
        code == CALL, (spot > table.strike) * 1.0, np.where(code == PUT, -1.0 * (spot < table.strike), 1.0)
    )
    expiring = np.abs(tau_arr) <= TAU_EPS
    out: np.ndarray = np.where(alive, delta, np.where(expiring, payoff_slope, 0.0))
    return out


def netting_set_value(table: TradeTable, spots: np.ndarray, time: float, rate: float) -> np.ndarray:
    """V = Σ quantity·price at ``time`` for spot vectors ``spots`` of shape (…, underlyings)."""
    prices = unit_prices(table, spots[..., table.underlying], table.maturity - time, rate)
    out: np.ndarray = prices @ table.quantity
    return out
