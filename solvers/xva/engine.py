"""The vectorised Monte Carlo engine: correlated GBM paths in chunks, pricing on the grid, netting,
lagged collateral, initial margin, exposures and the valuation adjustments with standard errors.

Small matrix products use ``np.einsum`` (single-threaded loops) rather than ``@``: multithreaded BLAS on
(paths × underlyings) blocks only adds thread contention on a shared machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from solvers.xva.default_models import PathDefaultWeights, default_cdf, importance_shift, simulate_structural
from solvers.xva.pricing import TradeTable, netting_set_value, unit_deltas, unit_prices
from solvers.xva.schema import Instance, StructuralDefault

#: Quantile of the discounted positive exposure reported as PFE.
PFE_QUANTILE = 0.975
#: Memory one chunk of paths may use for its per-date arrays and pricing temporaries.
CHUNK_MEMORY_BYTES = 192 * 2**20
MIN_CHUNK_PATHS = 64
MAX_CHUNK_PATHS = 8_192
ADJUSTMENTS = ("cva", "dva", "fva", "mva")


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
        return cls(
            inst=inst,
            trades=TradeTable.from_instance(inst),
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
        )

    def chunk_paths(self) -> int:
        """An even number of paths per chunk that keeps one chunk's arrays within CHUNK_MEMORY_BYTES."""
        per_path = 8 * (3 * len(self.sim_times) + 8 * len(self.times) + 16 * len(self.trades.code))
        chunk = int(np.clip(CHUNK_MEMORY_BYTES // per_path, MIN_CHUNK_PATHS, MAX_CHUNK_PATHS))
        return chunk - chunk % 2


def initial_margin(setup: Setup, spots: np.ndarray, time: float, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Received and posted IM at ``time`` for spots (paths, underlyings) and netting-set values ``value``.

    The quantiles of ΔV = V(t + δ) − V(t) are taken by full revaluation at ±z_a along the direction in
    which the value rises fastest (the normalised gradient in the space of the independent shocks): exact
    when the value is monotone in one risk factor, first-order accurate otherwise. A trade maturing inside
    the margin period counts with its payoff.
    """
    assert setup.im_z is not None
    tr = setup.trades
    rate = setup.inst.market.rate
    horizon = np.clip(np.minimum(setup.inst.margin_period, tr.maturity - time), 0.0, None)
    tau_after = tr.maturity - time - horizon
    spot = spots[:, tr.underlying]
    centre = spot * np.exp((rate - tr.dividend - 0.5 * tr.vol**2) * horizon)
    shock_scale = tr.vol * np.sqrt(horizon)
    sensitivity = unit_deltas(tr, centre, tau_after, rate) * centre * (tr.quantity * shock_scale)
    gradient = np.einsum("pj,jf->pf", sensitivity, setup.factor[tr.underlying])
    norm = np.linalg.norm(gradient, axis=1, keepdims=True)
    direction = np.divide(gradient, norm, out=np.zeros_like(gradient), where=norm > 0)
    factor_move = np.einsum("pf,uf->pu", direction, setup.factor)
    quantiles = []
    for sign in (1.0, -1.0):
        shocked = centre * np.exp(shock_scale * (sign * setup.im_z) * factor_move[:, tr.underlying])
        quantiles.append(np.einsum("pj,j->p", unit_prices(tr, shocked, tau_after, rate), tr.quantity) - value)
    return np.maximum(quantiles[0], 0.0), np.maximum(-quantiles[1], 0.0)


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
        normals = _normals(rng, n_paths, steps, antithetic)
        shift = importance_shift(model, rate, setup.inst.horizon) if use_importance else 0.0
        return simulate_structural(model, rate, setup.times, normals, shift=shift)
    cdf = default_cdf(model, rate, setup.times)
    pd = np.concatenate([[0.0], np.diff(cdf)])
    return PathDefaultWeights(survival=(1.0 - cdf)[None, :], default=pd[None, :])


def _normals(rng: np.random.Generator, n_paths: int, width: int, antithetic: bool) -> np.ndarray:
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
            shocks = np.einsum("pf,uf->pu", _normals(rng, n_paths, len(setup.vol), antithetic), setup.factor)
            log_spot += setup.drift * dt + setup.vol * np.sqrt(dt) * shocks
            if stop():
                return None
        previous = time
        spots = np.exp(log_spot)
        values[:, m] = netting_set_value(setup.trades, spots, time, rate)
        if has_im:
            im_received[:, m], im_posted[:, m] = initial_margin(setup, spots, time, values[:, m])
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
