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

    def subset(self, columns: np.ndarray) -> TradeTable:
        """The table of the trades at positions ``columns``."""
        return TradeTable(
            self.code[columns],
            self.underlying[columns],
            self.strike[columns],
            self.maturity[columns],
            self.quantity[columns],
            self.vol[columns],
            self.dividend[columns],
        )

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


#: Tabulated netting-set values: nodes per underlying, uniform in log spot over the paths' range.
VALUE_NODES = 256
#: A live option is tabulated only while its σ√τ spans at least this many node spacings (closer to expiry
#: its price bends too sharply for the spline and it is priced path by path, like the payoffs).
SMOOTH_SPACINGS = 8.0


def tabulated_netting_set_value(table: TradeTable, spots: np.ndarray, time: float, rate: float) -> np.ndarray:
    """V of ``netting_set_value`` for many paths at one date, pricing on nodes instead of paths.

    Every trade depends on one underlying, so V = Σ_u f_u(S_u): each f_u is priced at VALUE_NODES spots
    (uniform in log spot over the paths' range) with its slope and interpolated by cubic Hermite in log spot; trades
    near or at expiry (σ√τ < SMOOTH_SPACINGS node spacings), and all trades when there are no more paths
    than nodes, are priced path by path. docs/kinds/xva.md gives the measured interpolation error.
    """
    n_paths = spots.shape[0]
    if n_paths <= VALUE_NODES:
        return netting_set_value(table, spots, time, rate)
    tau = table.maturity - time
    log_spots = np.log(spots)
    low, high = log_spots.min(axis=0), log_spots.max(axis=0)
    spacing = (high - low) / (VALUE_NODES - 1)
    width = table.vol * np.sqrt(np.clip(tau, 0.0, None))
    smooth = (tau > TAU_EPS) & (width >= SMOOTH_SPACINGS * spacing[table.underlying]) & (spacing[table.underlying] > 0)
    out = np.zeros(n_paths)
    exact = np.flatnonzero(~smooth & (tau >= -TAU_EPS))
    if exact.size:
        out += netting_set_value(table.subset(exact), spots, time, rate)
    tabulated = np.flatnonzero(smooth)
    if tabulated.size:
        nodes = np.linspace(low, high, VALUE_NODES)
        sub = table.subset(tabulated)
        node_spots = np.exp(nodes[:, sub.underlying])
        tau_sub = sub.maturity - time
        priced = unit_prices(sub, node_spots, tau_sub, rate) * sub.quantity
        # d/d(log S) of each price: delta · S
        sloped = unit_deltas(sub, node_spots, tau_sub, rate) * node_spots * sub.quantity
        for u in np.unique(sub.underlying):
            on_u = sub.underlying == u
            out += _hermite(
                low[u], spacing[u], priced[:, on_u].sum(axis=1), sloped[:, on_u].sum(axis=1), log_spots[:, u]
            )
    return out


def _hermite(start: float, spacing: float, values: np.ndarray, slopes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation on the uniform nodes start + i·spacing with values and slopes there."""
    position = np.clip((x - start) / spacing, 0.0, len(values) - 1.0)
    cell = np.minimum(position.astype(np.intp), len(values) - 2)
    t = position - cell
    t2, t3 = t * t, t * t * t
    out: np.ndarray = (
        (2 * t3 - 3 * t2 + 1) * values[cell]
        + (t3 - 2 * t2 + t) * spacing * slopes[cell]
        + (-2 * t3 + 3 * t2) * values[cell + 1]
        + (t3 - t2) * spacing * slopes[cell + 1]
    )
    return out
