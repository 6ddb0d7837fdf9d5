"""The xva check's own maths: pricing, default probabilities, initial margin and an independent estimator.

Written for the check only and sharing no code with the engine (``pricing``, ``default_models``,
``engine``, ``monte_carlo``); an import-linter contract keeps it that way. The definitions are those of
docs/kinds/xva.md; the estimator is a different one from the engine's, so that a wrong number cannot
agree with it by construction:

* every path draws one exposure date k from a mixture q of the four adjustments' date weights (PD of each
  party, the funding weights), simulates only what that date needs — the spots at the look-back date u_k
  and at t_k, sampled directly, or the whole look-back path when a minimum transfer makes the collateral
  path-dependent — and contributes weight_k / q_k times its exposure at t_k to each adjustment;
* its means are unbiased for CVA, DVA, FVA and MVA, and its per-path variance is at least the engine's
  (Cauchy–Schwarz over the dates), so its standard deviation also bounds the engine's noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from solvers.xva.schema import HazardDefault, Instance, StructuralDefault

#: Times to maturity within this many years of 0 are "on the maturity date": the trade is worth its payoff.
ON_MATURITY = 1e-10
#: Mixed into the seed so that the check's paths are not the engine's.
CHECK_STREAM = 0x636865636B
CALL, PUT, FORWARD = "european_call", "european_put", "forward"


def normal_cdf(x: float) -> float:
    """Φ(x) for a scalar, from the complementary error function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def scalar_price(kind: str, spot: float, strike: float, tau: float, rate: float, dividend: float, vol: float) -> float:
    """One unit of a call, put or forward: Black–Scholes / forward price, the payoff on maturity, 0 after."""
    if tau < -ON_MATURITY:
        return 0.0
    if tau <= ON_MATURITY:
        if kind == CALL:
            return max(spot - strike, 0.0)
        return max(strike - spot, 0.0) if kind == PUT else spot - strike
    forward = spot * math.exp(-dividend * tau)
    pv_strike = strike * math.exp(-rate * tau)
    if kind == FORWARD:
        return forward - pv_strike
    width = vol * math.sqrt(tau)
    d1 = math.log(forward / pv_strike) / width + 0.5 * width
    d2 = d1 - width
    if kind == CALL:
        return forward * normal_cdf(d1) - pv_strike * normal_cdf(d2)
    return pv_strike * normal_cdf(-d2) - forward * normal_cdf(-d1)


def default_probability(model: HazardDefault | StructuralDefault, rate: float, times: np.ndarray) -> np.ndarray:
    """P(default by t): 1 − e^{−λt} (hazard) or the Black–Cox first passage below the barrier (structural)."""
    t = np.asarray(times, dtype=np.float64)
    if isinstance(model, HazardDefault):
        return np.asarray(1.0 - np.exp(-model.rate * t))
    out = np.zeros_like(t)
    later = t > 0
    s, tl = model.vol, t[later]
    nu = rate - 0.5 * s * s
    b = math.log(model.barrier / model.asset)
    spread = s * np.sqrt(tl)
    out[later] = ndtr((b - nu * tl) / spread) + math.exp(2.0 * nu * b / (s * s)) * ndtr((b + nu * tl) / spread)
    return np.asarray(np.clip(out, 0.0, 1.0))


@dataclass(frozen=True)
class Book:
    """The trades as columns, with their underlyings' market data."""

    kind: np.ndarray
    underlying: np.ndarray
    strike: np.ndarray
    maturity: np.ndarray
    quantity: np.ndarray
    vol: np.ndarray
    dividend: np.ndarray

    @classmethod
    def of(cls, inst: Instance) -> Book:
        """Columns from the instance."""
        position = {u.name: i for i, u in enumerate(inst.market.underlyings)}
        unds = inst.market.underlyings
        where = [position[t.underlying] for t in inst.trades]
        return cls(
            kind=np.array([t.type for t in inst.trades]),
            underlying=np.array(where, dtype=np.intp),
            strike=np.array([t.strike for t in inst.trades]),
            maturity=np.array([t.maturity for t in inst.trades]),
            quantity=np.array([t.quantity for t in inst.trades]),
            vol=np.array([unds[i].vol for i in where]),
            dividend=np.array([unds[i].dividend for i in where]),
        )


def _d1(forward: np.ndarray, pv_strike: np.ndarray, width: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.log(forward / pv_strike) / width + 0.5 * width)


def unit_values(book: Book, spot: np.ndarray, tau: np.ndarray, rate: float) -> np.ndarray:
    """Per path and trade (shape of ``tau``): one unit's price given its underlying's spot ``spot``."""
    live = tau > ON_MATURITY
    t = np.where(live, tau, 1.0)
    forward = spot * np.exp(-book.dividend * t)
    pv_strike = book.strike * np.exp(-rate * t)
    width = book.vol * np.sqrt(t)
    d1 = _d1(forward, pv_strike, width)
    call = forward * ndtr(d1) - pv_strike * ndtr(d1 - width)
    # put by parity: C − P = F − K e^{−rτ}
    alive_value = np.where(book.kind == FORWARD, forward - pv_strike, call - (book.kind == PUT) * (forward - pv_strike))
    if live.all():
        return np.asarray(alive_value)
    payoff = np.where(
        book.kind == CALL,
        np.maximum(spot - book.strike, 0.0),
        np.where(book.kind == PUT, np.maximum(book.strike - spot, 0.0), spot - book.strike),
    )
    return np.asarray(np.where(live, alive_value, np.where(tau >= -ON_MATURITY, payoff, 0.0)))


def unit_deltas(book: Book, spot: np.ndarray, tau: np.ndarray, rate: float) -> np.ndarray:
    """∂(unit price)/∂spot per path and trade: e^{−qτ}N(d1), e^{−qτ}(N(d1) − 1), e^{−qτ}; payoff slopes on
    the maturity date; 0 after it."""
    live = tau > ON_MATURITY
    t = np.where(live, tau, 1.0)
    carry = np.exp(-book.dividend * t)
    width = book.vol * np.sqrt(t)
    d1 = _d1(spot * carry, book.strike * np.exp(-rate * t), width)
    put_delta = carry * (ndtr(d1) - 1.0)
    alive_delta = np.where(book.kind == CALL, carry * ndtr(d1), np.where(book.kind == PUT, put_delta, carry))
    slope = np.where(
        book.kind == CALL, (spot > book.strike) * 1.0, np.where(book.kind == PUT, -1.0 * (spot < book.strike), 1.0)
    )
    return np.asarray(np.where(live, alive_delta, np.where(tau >= -ON_MATURITY, slope, 0.0)))


def book_value(book: Book, spots: np.ndarray, times: np.ndarray, rate: float) -> np.ndarray:
    """V = Σ quantity·price per path, for spots (paths, underlyings) at per-path ``times``."""
    tau = book.maturity[None, :] - times[:, None]
    return np.asarray(unit_values(book, spots[:, book.underlying], tau, rate) @ book.quantity)


#: One-factor IM (docs/kinds/xva.md): the normal shock at the middles of MARGIN_CELLS equal cells over
#: ±MARGIN_BOUND with their Gaussian masses; monotonicity is judged on every MARGIN_STRIDE-th middle.
MARGIN_CELLS, MARGIN_BOUND, MARGIN_STRIDE = 241, 6.0, 8
_CELL_EDGES = np.linspace(-MARGIN_BOUND, MARGIN_BOUND, MARGIN_CELLS + 1)
_CELL_SHOCKS = (_CELL_EDGES[:-1] + _CELL_EDGES[1:]) / 2.0
_CELL_MASSES = (ndtr(_CELL_EDGES[1:]) - ndtr(_CELL_EDGES[:-1])) / (ndtr(MARGIN_BOUND) - ndtr(-MARGIN_BOUND))


def margins(
    inst: Instance, book: Book, correlation: np.ndarray, spots: np.ndarray, times: np.ndarray, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(received, posted) initial margin per path at ``times``: the a- and (1 − a)-quantiles of the value
    after the margin period (docs/kinds/xva.md). One traded underlying: the value at ±z_a where it is
    monotone in the shock, else the quantile of the cell values under their Gaussian masses; several:
    delta-gamma with a Cornish–Fisher quantile."""
    im = inst.collateral.initial_margin
    assert im is not None
    rate = inst.market.rate
    period = inst.margin_period
    horizon = np.clip(np.minimum(period, book.maturity[None, :] - times[:, None]), 0.0, None)
    after = book.maturity[None, :] - times[:, None] - horizon
    centre = spots[:, book.underlying] * np.exp((rate - book.dividend - 0.5 * book.vol**2) * horizon)
    scale = book.vol * np.sqrt(horizon)
    traded = np.unique(book.underlying)
    if len(traded) > 1:
        high, low = _cornish_fisher(
            book, correlation[np.ix_(traded, traded)], traded, centre, scale, after, rate, im.quantile
        )
        return np.maximum(high - value, 0.0), np.maximum(value - low, 0.0)

    def revalued(rows: np.ndarray, shocks: np.ndarray) -> np.ndarray:
        moved = centre[rows, None, :] * np.exp(shocks[None, :, None] * scale[rows, None, :])
        return np.asarray(unit_values(book, moved, after[rows, None, :], rate) @ book.quantity)

    z = float(ndtri(im.quantile))
    every = np.arange(len(value))
    ends = revalued(every, np.array([-z, z]))
    coarse = np.diff(revalued(every, _CELL_SHOCKS[::MARGIN_STRIDE]), axis=1)
    decreasing = np.all(coarse <= 0.0, axis=1)
    high = np.where(decreasing, ends[:, 0], ends[:, 1])
    low = np.where(decreasing, ends[:, 1], ends[:, 0])
    mixed = np.flatnonzero(~(decreasing | np.all(coarse >= 0.0, axis=1)))
    step = max(1, 2**21 // (MARGIN_CELLS * len(book.quantity)))
    for lo in range(0, len(mixed), step):
        rows = mixed[lo : lo + step]
        later = revalued(rows, _CELL_SHOCKS)
        order = np.argsort(later, axis=1)
        high[rows] = _cell_quantile(np.take_along_axis(later, order, 1), _CELL_MASSES[order], im.quantile)
        low[rows] = _cell_quantile(np.take_along_axis(later, order, 1), _CELL_MASSES[order], 1.0 - im.quantile)
    return np.maximum(high - value, 0.0), np.maximum(value - low, 0.0)


def _cell_quantile(ordered: np.ndarray, masses: np.ndarray, level: float) -> np.ndarray:
    """Per row of sorted values, linear interpolation of the value against the CDF at each cell's middle."""
    middle = np.cumsum(masses, axis=1) - masses / 2.0
    out = np.empty(len(ordered))
    for i in range(len(ordered)):
        out[i] = np.interp(level, middle[i], ordered[i])
    return out


def _cornish_fisher(
    book: Book,
    rho: np.ndarray,
    traded: np.ndarray,
    centre: np.ndarray,
    scale: np.ndarray,
    after: np.ndarray,
    rate: float,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of V(c) + gᵀx + ½xᵀHx (H diagonal, x ~ N(0, ρ)) from its first four cumulants."""
    mid = unit_values(book, centre, after, rate)
    first = unit_deltas(book, centre, after, rate) * centre
    live = (after > ON_MATURITY) & (book.kind != FORWARD)
    t = np.where(live, after, 1.0)
    width = book.vol * np.sqrt(t)
    d1 = _d1(centre * np.exp(-book.dividend * t), book.strike * np.exp(-rate * t), width)
    density = np.exp(-0.5 * d1**2) / math.sqrt(2.0 * math.pi)
    second = np.where(live, np.exp(-book.dividend * t) * density * centre / width, 0.0)
    column = (book.underlying[:, None] == traded[None, :]).astype(np.float64)
    g = (first * book.quantity * scale) @ column
    h = ((second + first) * book.quantity * scale**2) @ column
    a = h[:, :, None] * rho[None]
    a2 = a @ a
    rg = g @ rho
    c1 = 0.5 * np.trace(a, axis1=1, axis2=2)
    c2 = np.sum(g * rg, axis=1) + 0.5 * np.trace(a2, axis1=1, axis2=2)
    c3 = 3.0 * np.sum(rg * h * rg, axis=1) + np.trace(a2 @ a, axis1=1, axis2=2)
    c4 = 12.0 * np.sum((h * rg) @ rho * (h * rg), axis=1) + 3.0 * np.trace(a2 @ a2, axis1=1, axis2=2)
    sd = np.sqrt(np.maximum(c2, 0.0))
    s3 = np.divide(c3, sd**3, out=np.zeros_like(sd), where=sd > 0)
    s4 = np.divide(c4, sd**4, out=np.zeros_like(sd), where=sd > 0)
    base = mid @ book.quantity + c1
    out = []
    for z in (float(ndtri(level)), -float(ndtri(level))):
        w = z + (z * z - 1.0) / 6.0 * s3 + (z**3 - 3.0 * z) / 24.0 * s4 - (2.0 * z**3 - 5.0 * z) / 36.0 * s3**2
        out.append(base + sd * w)
    return out[0], out[1]


def collateral_target(inst: Instance, value: np.ndarray) -> np.ndarray:
    """C*(v) = sign(v)·max(|v| − threshold, 0) (0 when uncollateralised)."""
    threshold = inst.collateral.threshold
    if threshold is None:
        return np.zeros_like(value)
    return np.asarray(np.sign(value) * np.maximum(np.abs(value) - threshold, 0.0))


def has_initial_margin(inst: Instance) -> bool:
    """IM is posted only with an IM quantile and a positive margin period."""
    return inst.collateral.initial_margin is not None and inst.margin_period > 0


@dataclass(frozen=True)
class Estimate:
    """The check's estimates of the adjustments, with the per-path standard deviations and path count
    (``deviation / √paths`` is each estimate's standard error, the brute-force IM correction's included),
    and with several traded underlyings the (path, date) pairs whose IM was taken by brute force."""

    mean: dict[str, float]
    deviation: dict[str, float]
    paths: int
    brute_force_pairs: int = 0


#: Several traded underlyings: IM on a sample of (path, date) pairs by brute-force nested sampling, within
#: BRUTE_FORCE_WORK trade revaluations, BRUTE_FORCE_INNER shocks per pair, MIN/MAX pairs.
BRUTE_FORCE_INNER = 2_000
BRUTE_FORCE_WORK = 4_000_000
MIN_BRUTE_FORCE_PAIRS, MAX_BRUTE_FORCE_PAIRS = 16, 256


def brute_force_margins(
    inst: Instance,
    book: Book,
    correlation: np.ndarray,
    spots: np.ndarray,
    times: np.ndarray,
    value: np.ndarray,
    inner: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(received, posted) IM per row by the definition, by brute force: the empirical a- and (1 − a)-
    quantiles of the book revalued after the margin period under ``inner`` exact joint shocks (a trade
    maturing inside the period with its payoff), minus the value now."""
    im = inst.collateral.initial_margin
    assert im is not None
    rate = inst.market.rate
    # a factor of ρ that also exists for a singular (semi-definite) ρ
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    chol = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    received, posted = np.empty(len(value)), np.empty(len(value))
    for row in range(len(value)):
        horizon = np.clip(np.minimum(inst.margin_period, book.maturity - times[row]), 0.0, None)
        after = book.maturity - times[row] - horizon
        centre = spots[row, book.underlying] * np.exp((rate - book.dividend - 0.5 * book.vol**2) * horizon)
        shocks = (rng.standard_normal((inner, len(correlation))) @ chol.T)[:, book.underlying]
        moved = centre * np.exp(shocks * book.vol * np.sqrt(horizon))
        later = unit_values(book, moved, np.broadcast_to(after, moved.shape), rate) @ book.quantity
        high, low = np.quantile(later, [im.quantile, 1.0 - im.quantile], method="normal_unbiased")
        received[row], posted[row] = max(high - value[row], 0.0), max(value[row] - low, 0.0)
    return received, posted


class _Market:
    """Correlated GBM spots sampled at per-path times."""

    def __init__(self, inst: Instance, correlation: np.ndarray, rng: np.random.Generator) -> None:
        unds = inst.market.underlyings
        eigenvalues, vectors = np.linalg.eigh(correlation)
        self.loading = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        self.vol = np.array([u.vol for u in unds])
        self.drift = inst.market.rate - np.array([u.dividend for u in unds]) - 0.5 * self.vol**2
        self.start = np.log([u.spot for u in unds])
        self.rng = rng

    def advance(self, log_spot: np.ndarray, step: np.ndarray) -> np.ndarray:
        """log spots after per-path time steps ``step`` (≥ 0)."""
        shocks = self.rng.standard_normal(log_spot.shape) @ self.loading.T
        return np.asarray(log_spot + self.drift * step[:, None] + self.vol * np.sqrt(step)[:, None] * shocks)


def adjustment_weights(inst: Instance) -> dict[str, np.ndarray]:
    """Per date k = 1 … N the weight of the date's exposure in each adjustment (without the recovery or
    spread factors): PD of the counterparty (CVA) and the bank (DVA), δt·survival (FVA, MVA)."""
    times = inst.grid()
    rate = inst.market.rate
    counterparty = default_probability(inst.counterparty.default, rate, times)
    bank = default_probability(inst.bank.default, rate, times)
    survival = (1.0 - counterparty) * (1.0 - bank)
    dt = np.diff(times)
    weights = {"cva": np.diff(counterparty), "dva": np.diff(bank), "fva": dt * survival[:-1]}
    if has_initial_margin(inst):
        weights["mva"] = dt * survival[1:]
    return weights


def estimate(inst: Instance, paths: int, seed: int) -> Estimate:
    """Estimate CVA, DVA, FVA (and MVA with IM) with ``paths`` date-sampled paths (see the module doc)."""
    rng = np.random.default_rng([seed, CHECK_STREAM])
    book = Book.of(inst)
    correlation = np.array(inst.market.correlation, dtype=np.float64)
    correlation = 0.5 * (correlation + correlation.T)
    market = _Market(inst, correlation, rng)
    times = inst.grid()
    rate = inst.market.rate
    weights = adjustment_weights(inst)
    totals = {name: float(w.sum()) for name, w in weights.items()}
    mixture = np.zeros(len(times) - 1)
    for name, w in weights.items():
        if totals[name] > 0:
            mixture += w / totals[name]
    mixture /= mixture.sum()
    date = rng.choice(len(mixture), size=paths, p=mixture) + 1
    t = times[date]
    lookback = np.maximum(times - inst.margin_period, 0.0)
    u = lookback[date]
    csa = inst.collateral
    start = np.tile(market.start, (paths, 1))
    if csa.threshold is not None and csa.minimum_transfer > 0:
        balance, at_u = _walk_collateral(inst, book, market, start, lookback, date)
    else:
        at_u = market.advance(start, u)
        balance = collateral_target(inst, book_value(book, np.exp(at_u), u, rate))
    at_t = market.advance(at_u, t - u)
    value = book_value(book, np.exp(at_t), t, rate)
    received = posted_at_u = posted_at_t = np.zeros(paths)
    if has_initial_margin(inst):
        spots_u = np.exp(at_u)
        received, posted_at_u = margins(inst, book, correlation, spots_u, u, book_value(book, spots_u, u, rate))
        _, posted_at_t = margins(inst, book, correlation, np.exp(at_t), t, value)
    discount = np.exp(-rate * t)
    net = value - balance
    exposures = {
        "cva": (1.0 - inst.counterparty.recovery) * discount * np.maximum(net - received, 0.0),
        "dva": (1.0 - inst.bank.recovery) * discount * np.maximum(-net - posted_at_u, 0.0),
        "fva": -inst.funding.spread * discount * net,
        "mva": inst.funding.spread * discount * posted_at_t,
    }
    mean, deviation = {}, {}
    for name, w in weights.items():
        contribution = w[date - 1] / mixture[date - 1] * exposures[name]
        mean[name] = float(contribution.mean())
        deviation[name] = float(contribution.std(ddof=1)) if paths > 1 else math.inf
    pairs = 0
    if has_initial_margin(inst) and len(np.unique(book.underlying)) > 1 and paths > 1 and MAX_BRUTE_FORCE_PAIRS > 1:
        # delta-gamma Cornish–Fisher is an approximation: on a sample of the (path, date) pairs the IM is
        # taken by brute force, and the mean difference it makes corrects each estimate (two-phase
        # sampling: the correction's own noise enters the deviation)
        inner = BRUTE_FORCE_INNER
        pairs = BRUTE_FORCE_WORK // (2 * inner * len(book.quantity))
        pairs = int(min(max(pairs, MIN_BRUTE_FORCE_PAIRS), MAX_BRUTE_FORCE_PAIRS, paths))
        rows = rng.choice(paths, size=pairs, replace=False)
        spots_u, spots_t = np.exp(at_u[rows]), np.exp(at_t[rows])
        value_u = book_value(book, spots_u, u[rows], rate)
        exact_received, exact_posted_u = brute_force_margins(
            inst, book, correlation, spots_u, u[rows], value_u, inner, rng
        )
        _, exact_posted_t = brute_force_margins(inst, book, correlation, spots_t, t[rows], value[rows], inner, rng)
        d, n = discount[rows], net[rows]
        differences = {
            "cva": (1.0 - inst.counterparty.recovery)
            * d
            * (np.maximum(n - exact_received, 0.0) - np.maximum(n - received[rows], 0.0)),
            "dva": (1.0 - inst.bank.recovery)
            * d
            * (np.maximum(-n - exact_posted_u, 0.0) - np.maximum(-n - posted_at_u[rows], 0.0)),
            "mva": inst.funding.spread * d * (exact_posted_t - posted_at_t[rows]),
        }
        for name, difference in differences.items():
            correction = weights[name][date[rows] - 1] / mixture[date[rows] - 1] * difference
            mean[name] += float(correction.mean())
            spread = float(correction.std(ddof=1)) if pairs > 1 else 0.0
            deviation[name] = math.sqrt(deviation[name] ** 2 + spread**2 * paths / pairs)
    return Estimate(mean, deviation, paths, pairs)


def _walk_collateral(
    inst: Instance, book: Book, market: _Market, start: np.ndarray, lookback: np.ndarray, date: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """With a minimum transfer the balance depends on the path: walk the look-back dates u_0 … u_k of each
    path's date k, moving the balance to C*(V(u_j)) when that changes it by at least the minimum transfer.
    Returns the balance at t_k and the log spots at u_k."""
    paths = len(date)
    balance = np.zeros(paths)
    log_spot = start
    at_u = start.copy()
    previous = 0.0
    for j in range(int(date.max()) + 1):
        log_spot = market.advance(log_spot, np.full(paths, lookback[j] - previous))
        previous = lookback[j]
        active = date >= j
        value = book_value(book, np.exp(log_spot[active]), np.full(int(active.sum()), lookback[j]), inst.market.rate)
        target = collateral_target(inst, value)
        moved = np.abs(target - balance[active]) >= inst.collateral.minimum_transfer
        balance[active] = np.where(moved, target, balance[active])
        at_u[date == j] = log_spot[date == j]
    return balance, at_u
