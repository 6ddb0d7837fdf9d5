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


def unit_prices(table: TradeTable, spot: np.ndarray, tau: np.ndarray, rate: float) -> np.ndarray:
    """Price of one unit of each trade given its underlying's spot (shape (…, trades)) and time to maturity.

    ``tau`` has one entry per trade. τ > 0: Black–Scholes / forward price; τ = 0 (within TAU_EPS): the
    payoff; τ < 0 (matured): 0. Only the columns of live trades are priced.
    """
    tau = np.asarray(tau, dtype=np.float64)
    out = np.zeros(np.shape(spot))
    alive = tau > TAU_EPS
    options = np.flatnonzero(alive & (table.code != FORWARD))
    if options.size:
        t = tau[options]
        pv_strike = table.strike[options] * np.exp(-rate * t)
        sig_sqrt = table.vol[options] * np.sqrt(t)
        fwd = spot[..., options] * np.exp(-table.dividend[options] * t)
        with np.errstate(divide="ignore"):
            d1 = np.log(fwd / pv_strike) / sig_sqrt + 0.5 * sig_sqrt
        call = fwd * ndtr(d1) - pv_strike * ndtr(d1 - sig_sqrt)
        out[..., options] = np.where(table.code[options] == PUT, call - fwd + pv_strike, call)
    forwards = np.flatnonzero(alive & (table.code == FORWARD))
    if forwards.size:
        t = tau[forwards]
        out[..., forwards] = spot[..., forwards] * np.exp(-table.dividend[forwards] * t) - table.strike[
            forwards
        ] * np.exp(-rate * t)
    expiring = np.flatnonzero(np.abs(tau) <= TAU_EPS)
    if expiring.size:
        s, k, code = spot[..., expiring], table.strike[expiring], table.code[expiring]
        out[..., expiring] = np.where(
            code == CALL, np.maximum(s - k, 0.0), np.where(code == PUT, np.maximum(k - s, 0.0), s - k)
        )
    return out


def unit_deltas(table: TradeTable, spot: np.ndarray, tau: np.ndarray, rate: float) -> np.ndarray:
    """∂price/∂spot of one unit of each trade (the payoff's slope on the maturity date, 0 afterwards)."""
    tau = np.asarray(tau, dtype=np.float64)
    out = np.zeros(np.shape(spot))
    alive = tau > TAU_EPS
    disc_q = np.exp(-table.dividend * np.where(alive, tau, 0.0))
    options = np.flatnonzero(alive & (table.code != FORWARD))
    if options.size:
        t = tau[options]
        sig_sqrt = table.vol[options] * np.sqrt(t)
        fwd = spot[..., options] * disc_q[options]
        with np.errstate(divide="ignore"):
            d1 = np.log(fwd / (table.strike[options] * np.exp(-rate * t))) / sig_sqrt + 0.5 * sig_sqrt
        call_delta = disc_q[options] * ndtr(d1)
        out[..., options] = np.where(table.code[options] == PUT, call_delta - disc_q[options], call_delta)
    forwards = np.flatnonzero(alive & (table.code == FORWARD))
    out[..., forwards] = disc_q[forwards]
    expiring = np.flatnonzero(np.abs(tau) <= TAU_EPS)
    if expiring.size:
        s, k, code = spot[..., expiring], table.strike[expiring], table.code[expiring]
        out[..., expiring] = np.where(code == CALL, 1.0 * (s > k), np.where(code == PUT, -1.0 * (s < k), 1.0))
    return out


def netting_set_value(table: TradeTable, spots: np.ndarray, time: float, rate: float) -> np.ndarray:
    """V = Σ quantity·price at ``time`` for spot vectors ``spots`` of shape (…, underlyings)."""
    prices = unit_prices(table, spots[..., table.underlying], table.maturity - time, rate)
    out: np.ndarray = np.einsum("...j,j->...", prices, table.quantity)
    return out


def unit_gammas(table: TradeTable, spot: np.ndarray, tau: np.ndarray, rate: float) -> np.ndarray:
    """∂²price/∂spot² of one unit of each trade: e^{−qτ}φ(d1)/(S σ√τ) for live options, 0 otherwise."""
    tau = np.asarray(tau, dtype=np.float64)
    out = np.zeros(np.shape(spot))
    options = np.flatnonzero((tau > TAU_EPS) & (table.code != FORWARD))
    if options.size:
        t = tau[options]
        sig_sqrt = table.vol[options] * np.sqrt(t)
        s = spot[..., options]
        with np.errstate(divide="ignore"):
            d1 = np.log(s * np.exp(-table.dividend[options] * t) / (table.strike[options] * np.exp(-rate * t)))
        d1 = d1 / sig_sqrt + 0.5 * sig_sqrt
        density = np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi)
        out[..., options] = np.exp(-table.dividend[options] * t) * density / (s * sig_sqrt)
    return out
