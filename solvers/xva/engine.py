"""The vectorised Monte Carlo engine: correlated GBM paths in chunks, pricing on the grid, netting,
lagged collateral, initial margin, exposures and the valuation adjustments with standard errors.

Small matrix products use ``np.einsum`` (single-threaded loops) rather than ``@``: multithreaded BLAS on
(paths × underlyings) blocks only adds thread contention on a shared machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import ndtr, ndtri

from solvers.xva.default_models import PathDefaultWeights, default_cdf, importance_shift, simulate_structural
from solvers.xva.pricing import (
    TradeTable,
    tabulated_netting_set_value,
    unit_deltas,
    unit_gammas,
    unit_prices,
)
from solvers.xva.schema import Instance, StructuralDefault

#: Quantile of the discounted positive exposure reported as PFE.
PFE_QUANTILE = 0.975
#: Memory one chunk of paths may use for its per-date arrays and pricing temporaries.
CHUNK_MEMORY_BYTES = 192 * 2**20
MIN_CHUNK_PATHS = 64
MAX_CHUNK_PATHS = 8_192
ADJUSTMENTS = ("cva", "dva", "fva", "mva")
#: Initial margin with one risk factor: the standard normal shock on a grid of IM_GRID_POINTS cells of
#: equal width over ±IM_GRID_BOUND (mass outside: 2e-9), each with its exact Gaussian mass.
IM_GRID_BOUND = 6.0
IM_GRID_POINTS = 241
_IM_EDGES = np.linspace(-IM_GRID_BOUND, IM_GRID_BOUND, IM_GRID_POINTS + 1)
IM_GRID = 0.5 * (_IM_EDGES[1:] + _IM_EDGES[:-1])
IM_MASS = np.diff(ndtr(_IM_EDGES)) / (ndtr(IM_GRID_BOUND) - ndtr(-IM_GRID_BOUND))
#: Above this many paths, one-factor IM is computed at this many spots (uniform in log spot over the paths'
#: range at the date) and interpolated by a cubic spline in log spot.
IM_SPOT_NODES = 129
#: Paths whose log spots span less than this share one spot (t = 0).
IM_SAME_SPOT = 1e-12
#: Monotonicity of V in the shock is tested on every IM_COARSE_STRIDE-th grid point.
IM_COARSE_STRIDE = 8
#: Largest (paths × grid × trades) block priced at once for the one-factor IM, and largest
#: (paths × factors × factors) block of the several-factor IM.
IM_BATCH_ELEMENTS = 2**21


def correlation_factor(correlation: list[list[float]]) -> np.ndarray:
    """L with L·Lᵀ = ρ for a positive semi-definite ρ (eigen-decomposition, tiny negatives clipped)."""
    rho = np.array(correlation, dtype=np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (rho + rho.T))
    out: np.ndarray = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    return out


@dataclass(frozen=True)
class Setup:
    """Everything the simulation needs, precomputed once from the instance."""

    inst: Instance
    trades: TradeTable
    times: np.ndarray
    sim_times: np.ndarray
    grid_at: np.ndarray
    lookback_at: np.ndarray
    factor: np.ndarray
    log_spot0: np.ndarray
    drift: np.ndarray
    vol: np.ndarray
    discount: np.ndarray
    im_z: float | None
    im_underlyings: np.ndarray
    im_membership: np.ndarray
    im_correlation: np.ndarray

    @classmethod
    def from_instance(cls, inst: Instance) -> Setup:
        """Grid, look-back dates u_k = max(t_k − δ, 0) merged into one simulation grid, and market arrays."""
        times = inst.grid()
        lookback = np.maximum(times - inst.margin_period, 0.0)
        scale = max(inst.horizon, 1.0)
        sim_times, inverse = np.unique(np.round(np.concatenate([times, lookback]) / scale, 12), return_inverse=True)
        n = len(times)
        unds = inst.market.underlyings
        vol = np.array([u.vol for u in unds])
        dividend = np.array([u.dividend for u in unds])
        im = inst.collateral.initial_margin
        rate = inst.market.rate
        trades = TradeTable.from_instance(inst)
        traded = np.unique(trades.underlying)
        rho = np.array(inst.market.correlation, dtype=np.float64)
        return cls(
            inst=inst,
            trades=trades,
            times=times,
            sim_times=sim_times * scale,
            grid_at=inverse[:n],
            lookback_at=inverse[n:],
            factor=correlation_factor(inst.market.correlation),
            log_spot0=np.log([u.spot for u in unds]),
            drift=rate - dividend - 0.5 * vol**2,
            vol=vol,
            discount=np.exp(-rate * times),
            im_z=float(ndtri(im.quantile)) if im is not None and inst.margin_period > 0 else None,
            im_underlyings=traded,
            im_membership=(trades.underlying[:, None] == traded[None, :]).astype(np.float64),
            im_correlation=0.5 * (rho + rho.T)[np.ix_(traded, traded)],
        )

    def chunk_paths(self) -> int:
        """An even number of paths per chunk that keeps one chunk's arrays within CHUNK_MEMORY_BYTES."""
        per_path = 8 * (3 * len(self.sim_times) + 8 * len(self.times) + 16 * len(self.trades.code))
        chunk = int(np.clip(CHUNK_MEMORY_BYTES // per_path, MIN_CHUNK_PATHS, MAX_CHUNK_PATHS))
        return chunk - chunk % 2


def initial_margin(setup: Setup, spots: np.ndarray, time: float, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Received and posted IM at ``time`` for spots (paths, underlyings) and netting-set values ``value``.

    IM_received = max(Q_a(ΔV), 0), IM_posted = max(−Q_{1−a}(ΔV), 0), ΔV = V(t + δ) − V(t) given the state.
    The shock of underlying i over the margin period is x_i = (Lε)_i, x ~ N(0, ρ); a trade maturing inside
    the period counts with its payoff, driven by the same standardised shock over its shorter horizon.
    One traded underlying: ΔV is a function of one normal x, and its quantiles are read off a fine grid of
    x with Gaussian cell masses (exact up to the grid, for any book). Several: delta-gamma in x with the
    cumulants of the quadratic form and a Cornish–Fisher quantile (docs/kinds/xva.md has its measured error).
    """
    assert setup.im_z is not None
    tr = setup.trades
    rate = setup.inst.market.rate
    horizon = np.clip(np.minimum(setup.inst.margin_period, tr.maturity - time), 0.0, None)
    tau_after = tr.maturity - time - horizon
    growth = np.exp((rate - tr.dividend - 0.5 * tr.vol**2) * horizon)
    shock_scale = tr.vol * np.sqrt(horizon)
    level = float(ndtr(setup.im_z))
    if len(setup.im_underlyings) > 1:
        centre = spots[:, tr.underlying] * growth
        upper, lower = np.empty(len(value)), np.empty(len(value))
        # (paths, factors, factors) blocks within IM_BATCH_ELEMENTS
        batch = max(1, IM_BATCH_ELEMENTS // len(setup.im_underlyings) ** 2)
        for lo in range(0, len(value), batch):
            rows = slice(lo, lo + batch)
            upper[rows], lower[rows] = _delta_gamma_quantiles(setup, centre[rows], shock_scale, tau_after, level)
        return np.maximum(upper - value, 0.0), np.maximum(value - lower, 0.0)
    spot = spots[:, setup.im_underlyings[0]]
    if len(spot) <= IM_SPOT_NODES:
        upper, lower = _one_factor_quantiles(tr, spot[:, None] * growth, shock_scale, tau_after, rate, level)
        return np.maximum(upper - value, 0.0), np.maximum(value - lower, 0.0)
    log_spot = np.log(spot)
    if np.ptp(log_spot) <= IM_SAME_SPOT:
        upper, lower = _one_factor_quantiles(tr, spot[:1, None] * growth, shock_scale, tau_after, rate, level)
        return np.maximum(upper - value, 0.0), np.maximum(value - lower, 0.0)
    # the quantiles at this date are smooth functions of the one spot: exact at nodes, splines in between
    nodes = np.linspace(log_spot.min(), log_spot.max(), IM_SPOT_NODES)
    at_nodes = _one_factor_quantiles(tr, np.exp(nodes)[:, None] * growth, shock_scale, tau_after, rate, level)
    upper, lower = (CubicSpline(nodes, q)(log_spot) for q in at_nodes)
    return np.maximum(upper - value, 0.0), np.maximum(value - lower, 0.0)


def _one_factor_quantiles(
    tr: TradeTable, centre: np.ndarray, shock_scale: np.ndarray, tau_after: np.ndarray, rate: float, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Q_a and Q_{1−a} of V(t + δ) when every trade moves with one standard normal x.

    Where V is monotone in x on a coarse grid (every IM_COARSE_STRIDE-th point), the quantiles are V at ±z_a
    exactly; elsewhere they are read off the fine grid (paths in batches, so that the (paths, grid, trades)
    prices stay within IM_BATCH_ELEMENTS).
    """

    def book_after(rows: np.ndarray | slice, shocks: np.ndarray) -> np.ndarray:
        shocked = centre[rows, None, :] * np.exp(shocks[None, :, None] * shock_scale)
        out: np.ndarray = np.einsum("pmj,j->pm", unit_prices(tr, shocked, tau_after, rate), tr.quantity)
        return out

    z = float(ndtri(level))
    at_z = book_after(slice(None), np.array([z, -z]))
    steps = np.diff(book_after(slice(None), IM_GRID[::IM_COARSE_STRIDE]), axis=1)
    rising, falling = np.all(steps >= 0.0, axis=1), np.all(steps <= 0.0, axis=1)
    upper = np.where(falling, at_z[:, 1], at_z[:, 0])
    lower = np.where(falling, at_z[:, 0], at_z[:, 1])
    bent = np.flatnonzero(~(rising | falling))
    batch = max(1, IM_BATCH_ELEMENTS // (len(IM_GRID) * len(tr.code)))
    for lo in range(0, len(bent), batch):
        rows = bent[lo : lo + batch]
        later = book_after(rows, IM_GRID)
        order = np.argsort(later, axis=1)
        ordered = np.take_along_axis(later, order, axis=1)
        mass = IM_MASS[order]
        # the CDF at each sorted value, taken at the middle of its cell's mass
        cdf = np.cumsum(mass, axis=1) - 0.5 * mass
        upper[rows] = _interpolate_quantile(ordered, cdf, level)
        lower[rows] = _interpolate_quantile(ordered, cdf, 1.0 - level)
    return upper, lower


def _interpolate_quantile(ordered: np.ndarray, cdf: np.ndarray, level: float) -> np.ndarray:
    """Per row, the value where the piecewise-linear (cdf, ordered) curve reaches ``level``."""
    above = np.clip((cdf < level).sum(axis=1), 1, cdf.shape[1] - 1)[:, None]
    c0, c1 = np.take_along_axis(cdf, above - 1, 1), np.take_along_axis(cdf, above, 1)
    v0, v1 = np.take_along_axis(ordered, above - 1, 1), np.take_along_axis(ordered, above, 1)
    weight = np.clip((level - c0) / np.maximum(c1 - c0, 1e-300), 0.0, 1.0)
    out: np.ndarray = (v0 + weight * (v1 - v0))[:, 0]
    return out


def _delta_gamma_quantiles(
    setup: Setup, centre: np.ndarray, shock_scale: np.ndarray, tau_after: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Q_a and Q_{1−a} of V(t + δ) ≈ V(c) + aᵀx + ½xᵀdiag(h)x, x ~ N(0, ρ): the cumulants of a Gaussian
    quadratic form (κ_r = ½(r−1)!·tr((Dρ)^r) + ½r!·aᵀρ(Dρ)^{r−2}a, r ≥ 2) and a Cornish–Fisher quantile."""
    tr = setup.trades
    rate = setup.inst.market.rate
    rho = setup.im_correlation
    value_c = np.einsum("pj,j->p", unit_prices(tr, centre, tau_after, rate), tr.quantity)
    delta = unit_deltas(tr, centre, tau_after, rate) * centre
    gamma = unit_gammas(tr, centre, tau_after, rate) * centre**2
    slope = np.einsum("pj,ju->pu", delta * (tr.quantity * shock_scale), setup.im_membership)
    curvature = np.einsum("pj,ju->pu", (gamma + delta) * (tr.quantity * shock_scale**2), setup.im_membership)
    pulled = np.einsum("pu,uv->pv", slope, rho)
    d_rho = curvature[:, :, None] * rho[None, :, :]
    d_rho_2 = np.einsum("puv,pvw->puw", d_rho, d_rho)
    k1 = 0.5 * np.einsum("puu->p", d_rho)
    k2 = np.einsum("pu,pu->p", slope, pulled) + 0.5 * np.einsum("puu->p", d_rho_2)
    k3 = 3.0 * np.einsum("pu,pu,pu->p", pulled, curvature, pulled) + np.einsum("puv,pvu->p", d_rho_2, d_rho)
    weighted = curvature * pulled
    k4 = 12.0 * np.einsum("pu,uv,pv->p", weighted, rho, weighted) + 3.0 * np.einsum("puv,pvu->p", d_rho_2, d_rho_2)
    sd = np.sqrt(np.maximum(k2, 0.0))
    safe = np.where(sd > 0, sd, 1.0)
    skew, kurt = k3 / safe**3, k4 / safe**4

    def cornish_fisher(z: float) -> np.ndarray:
        w = z + (z * z - 1.0) * skew / 6.0 + (z**3 - 3.0 * z) * kurt / 24.0 - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
        out: np.ndarray = value_c + k1 + sd * w
        return out

    z = float(ndtri(level))
    return cornish_fisher(z), cornish_fisher(-z)


@dataclass
class ChunkResult:
    """Per-path results of one chunk: discounted exposures on the grid and adjustment contributions."""

    positive: np.ndarray
    negative: np.ndarray
    value: np.ndarray
    im_posted: np.ndarray
    adjustments: dict[str, np.ndarray]


def _party_weights(
    setup: Setup,
    party: str,
    rng: np.random.Generator,
    n_paths: int,
    antithetic: bool,
    simulate: bool,
    use_importance: bool,
) -> PathDefaultWeights:
    """Survival and default weights of one party: closed form, or simulated paths for a structural model."""
    model = getattr(setup.inst, party).default
    rate = setup.inst.market.rate
    if simulate and isinstance(model, StructuralDefault):
        steps = len(setup.times) - 1
        draws = normals(rng, n_paths, steps, antithetic)
        shift = importance_shift(model, rate, setup.inst.horizon) if use_importance else 0.0
        return simulate_structural(model, rate, setup.times, draws, shift=shift)
    cdf = default_cdf(model, rate, setup.times)
    pd = np.concatenate([[0.0], np.diff(cdf)])
    return PathDefaultWeights(survival=(1.0 - cdf)[None, :], default=pd[None, :])


def normals(rng: np.random.Generator, n_paths: int, width: int, antithetic: bool) -> np.ndarray:
    """Standard normals (n_paths, width); with ``antithetic`` the second half mirrors the first."""
    if not antithetic:
        return rng.standard_normal((n_paths, width))
    half = rng.standard_normal((n_paths // 2, width))
    return np.concatenate([half, -half])


def simulate_chunk(
    setup: Setup,
    rng: np.random.Generator,
    n_paths: int,
    antithetic: bool,
    simulate_defaults: bool,
    use_importance: bool,
    stop: Callable[[], bool],
) -> ChunkResult | None:
    """Simulate ``n_paths`` paths (even when antithetic); None when ``stop()`` turned true meanwhile."""
    inst = setup.inst
    rate = inst.market.rate
    n_sim = len(setup.sim_times)
    values = np.empty((n_paths, n_sim))
    has_im = setup.im_z is not None
    im_received = np.zeros((n_paths, n_sim))
    im_posted = np.zeros((n_paths, n_sim))
    log_spot = np.tile(setup.log_spot0, (n_paths, 1))
    previous = 0.0
    for m, time in enumerate(setup.sim_times):
        if m > 0:
            dt = time - previous
            shocks = np.einsum("pf,uf->pu", normals(rng, n_paths, len(setup.vol), antithetic), setup.factor)
            log_spot += setup.drift * dt + setup.vol * np.sqrt(dt) * shocks
            if stop():
                return None
        previous = time
        spots = np.exp(log_spot)
        values[:, m] = tabulated_netting_set_value(setup.trades, spots, time, rate)
        if has_im:
            im_received[:, m], im_posted[:, m] = initial_margin(setup, spots, time, values[:, m])
    return settle(setup, values, im_received, im_posted, rng, antithetic, simulate_defaults, use_importance)


def settle(
    setup: Setup,
    values: np.ndarray,
    im_received: np.ndarray,
    im_posted: np.ndarray,
    rng: np.random.Generator,
    antithetic: bool,
    simulate_defaults: bool,
    use_importance: bool,
) -> ChunkResult:
    """From netting-set values and IM on the simulation grid (paths, dates): default weights, collateral,
    discounted exposures and each path's adjustment contributions."""
    n_paths = values.shape[0]
    counterparty = _party_weights(setup, "counterparty", rng, n_paths, antithetic, simulate_defaults, use_importance)
    bank = _party_weights(setup, "bank", rng, n_paths, antithetic, simulate_defaults, use_importance)
    result = _exposures(setup, values, im_received, im_posted)
    result.adjustments = _adjustments(setup, result, counterparty, bank)
    return result


def _exposures(setup: Setup, values: np.ndarray, im_received: np.ndarray, im_posted: np.ndarray) -> ChunkResult:
    """Lagged collateral with threshold and minimum transfer, then discounted exposures per path and date."""
    csa = setup.inst.collateral
    n_paths = values.shape[0]
    n_dates = len(setup.times)
    shape = (n_paths, n_dates)
    positive, negative, net_value, posted = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    balance = np.zeros(n_paths)
    for k in range(n_dates):
        grid, lookback = setup.grid_at[k], setup.lookback_at[k]
        if csa.threshold is not None:
            looked = values[:, lookback]
            target = np.sign(looked) * np.maximum(np.abs(looked) - csa.threshold, 0.0)
            balance = np.where(np.abs(target - balance) >= csa.minimum_transfer, target, balance)
        net = values[:, grid] - balance
        discount = setup.discount[k]
        positive[:, k] = discount * np.maximum(net - im_received[:, lookback], 0.0)
        negative[:, k] = discount * np.maximum(-net - im_posted[:, lookback], 0.0)
        net_value[:, k] = discount * net
        posted[:, k] = discount * im_posted[:, grid]
    return ChunkResult(positive, negative, net_value, posted, {})


def _adjustments(
    setup: Setup, result: ChunkResult, counterparty: PathDefaultWeights, bank: PathDefaultWeights
) -> dict[str, np.ndarray]:
    """Per-path CVA, DVA, FVA and MVA contributions (their path averages are the estimates)."""
    inst = setup.inst
    spread = inst.funding.spread
    dt = np.diff(setup.times)
    survival = counterparty.survival * bank.survival
    return {
        "cva": (1.0 - inst.counterparty.recovery)
        * np.sum(result.positive[:, 1:] * counterparty.default[:, 1:], axis=1),
        "dva": (1.0 - inst.bank.recovery) * np.sum(result.negative[:, 1:] * bank.default[:, 1:], axis=1),
        "fva": -spread * np.sum(dt * survival[:, :-1] * result.value[:, 1:], axis=1),
        "mva": spread * np.sum(dt * survival[:, 1:] * result.im_posted[:, 1:], axis=1),
    }


@dataclass
class RunningMoments:
    """Count, mean and sum of squared deviations of i.i.d. samples, merged batch by batch (Chan et al.)."""

    count: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, batch: np.ndarray) -> None:
        """Merge a batch of samples (first axis = samples)."""
        n_b = batch.shape[0]
        mean_b = batch.mean(axis=0)
        m2_b = ((batch - mean_b) ** 2).sum(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        total = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / total)
        self.count = total

    def std_error(self) -> np.ndarray:
        """Standard error of the mean (0 with fewer than two samples)."""
        if self.count < 2:
            return np.zeros_like(self.mean)
        out: np.ndarray = np.sqrt(np.maximum(self.m2, 0.0) / (self.count - 1) / self.count)
        return out
