"""The ``deep_bsde`` solver: the multi-layer deep BSDE scheme of Andersson & Gnoatto (2025), trained per job
with PyTorch on the CPU (imported only inside the solve).

* Layer 1, clean values. Every trade depends on one underlying, so V(t, S) = Σ_g f_g(t, S_u(g)) over the
  groups g of trades that share an underlying and a maturity T_g. Each f_g is a network of (T_g − t, log S)
  fitted to its BSDE in integrated form: for t_m ≤ T_g,
  e^{−r t_m} f_g(t_m, S_m) = E[e^{−r T_g} ξ_g − Σ_{l ≥ m} e^{−r t_l} Z_l ΔW_l | S_m], Z = σ S ∂_S f_g, ξ_g the
  group's payoff, by least squares over every path and date. Any adapted Z leaves the conditional mean
  unchanged; the first half of the steps uses Z = 0, the second half the network's own gradient, which
  removes most of the target's variance. At T_g the value is the payoff (the terminal condition).
* Layer 2, initial margin and ColVA. One network of (t, log spots) with two outputs, the a- and (1 − a)-
  quantiles of ΔV = V(t + δ) − V(t) given the state (both tails from one network), trained with the pinball
  loss on states and shocks drawn exactly from the model, ΔV from layer 1. ColVA is 0 here (collateral
  earns the risk-free rate), as for monte_carlo.
* Layers 3 and 4, CVA/DVA/MVA and FVA: linear BSDEs whose value at 0 is an expectation of terms that layers 1
  and 2 give along the paths; estimated on fresh evaluation paths with the engine's collateral, exposure and
  default code (hazard or structural, exact or simulated), so the solution has monte_carlo's shape and
  standard errors.
* Replicas: `replicas` independently trained copies of layers 1-2 value equal shares of the evaluation
  paths; each adjustment's standard error is the larger of the sampling error and the replicas' spread (the
  networks' error, which the sampling error alone does not cover: docs/kinds/xva.md).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.xva.engine import ADJUSTMENTS, Setup, initial_margin, normals, settle
from solvers.xva.monte_carlo import SOLUTION_REPORT_INTERVAL_S, PathAccumulator
from solvers.xva.options import DeepBsdeOptions
from solvers.xva.pricing import FORWARD, TAU_EPS, TradeTable, netting_set_value, unit_prices
from solvers.xva.schema import Instance

if TYPE_CHECKING:
    import torch

#: Spots per underlying and date at which layer 1 is evaluated on the paths (linear interpolation between).
VALUE_NODES = 257
#: Layer 2's spreads are at least this share of their median over the training states (a book with no delta
#: somewhere, e.g. only matured trades left on an underlying, still has a scale to learn the IM in).
SPREAD_FLOOR = 0.05
#: Largest (underlyings + groups) × training paths × dates of layer 1's training arrays.
TRAINING_ELEMENTS = 2**24
#: Adam's moment decays and denominator guard.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Loss-curve points reported per training layer (progress log lines and stats).
LOSS_CURVE_POINTS = 20


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A float32 tensor (the networks' precision) of a numpy array."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


@dataclass(frozen=True)
class TradeGroups:
    """The trades grouped by (underlying, maturity): each group's value is one function of one spot."""

    underlying: np.ndarray
    maturity: np.ndarray
    membership: np.ndarray
    trades: TradeTable
    #: +1 for a group of long options only (its value is ≥ 0), −1 for short options only (≤ 0), else 0
    sign: np.ndarray

    @classmethod
    def of(cls, trades: TradeTable) -> TradeGroups:
        """Group the trade table."""
        keys = np.stack([trades.underlying.astype(np.float64), trades.maturity], axis=1)
        unique, member = np.unique(keys, axis=0, return_inverse=True)
        membership = np.zeros((len(trades.code), len(unique)))
        membership[np.arange(len(trades.code)), member.ravel()] = 1.0
        option = (trades.code != FORWARD)[:, None] & (membership > 0)
        long = np.all(~(membership > 0) | (option & (trades.quantity >= 0)[:, None]), axis=0)
        short = np.all(~(membership > 0) | (option & (trades.quantity <= 0)[:, None]), axis=0)
        sign = np.where(long, 1.0, np.where(short, -1.0, 0.0))
        return cls(unique[:, 0].astype(np.intp), unique[:, 1], membership, trades, sign)

    def payoff(self, spots: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Payoffs (rows, len(groups)) of the groups ``groups`` at their underlyings' spots (rows, underlyings)."""
        tr = self.trades
        prices = unit_prices(tr, spots[:, tr.underlying], np.zeros(len(tr.code)), 0.0)
        out: np.ndarray = np.einsum("pj,jg->pg", prices * tr.quantity, self.membership[:, groups])
        return out


class GroupNetworks:
    """G independent two-hidden-layer networks evaluated together (batched matrix products)."""

    def __init__(self, groups: int, inputs: int, hidden: int, outputs: int, generator: torch.Generator) -> None:
        import torch

        sizes = [inputs, hidden, hidden, outputs]
        self.parameters: list[torch.Tensor] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            weight = torch.randn(groups, fan_in, fan_out, generator=generator, dtype=torch.float32) / math.sqrt(fan_in)
            self.parameters += [weight.requires_grad_(), torch.zeros(groups, 1, fan_out, dtype=torch.float32)]
            self.parameters[-1].requires_grad_()

    def __call__(self, features: torch.Tensor, groups: np.ndarray | None = None) -> torch.Tensor:
        """Outputs (G, rows, outputs) for features (G, rows, inputs); ``groups`` picks some of the networks."""
        import torch

        parameters = self.parameters if groups is None else [p[torch.from_numpy(groups)] for p in self.parameters]
        out = features
        last = len(parameters) - 2
        for i in range(0, len(parameters), 2):
            out = torch.baddbmm(parameters[i + 1], out, parameters[i])
            if i < last:
                out = torch.nn.functional.silu(out)
        return out


def train(
    networks: GroupNetworks,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    samples: int,
    batch: int,
    steps: int,
    options: DeepBsdeOptions,
    generator: torch.Generator,
    keep_going: Callable[[], bool],
    report: Callable[[int, float], None],
) -> int:
    """Adam with a cosine-annealed step size; ``loss_of(rows)`` is the loss on the sample rows ``rows``.
    Returns the steps done (fewer when ``keep_going()`` turned false)."""
    import torch

    # Adam written out (torch.optim's first use imports the compiler stack: seconds per job)
    first = [torch.zeros_like(p) for p in networks.parameters]
    second = [torch.zeros_like(p) for p in networks.parameters]
    every = max(1, steps // LOSS_CURVE_POINTS)
    for step in range(steps):
        if not keep_going():
            return step
        rows = torch.randint(samples, (min(batch, samples),), generator=generator)
        loss = loss_of(rows)
        gradients = torch.autograd.grad(loss, networks.parameters)
        rate = options.learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / steps))
        with torch.no_grad():
            for parameter, gradient, m, v in zip(networks.parameters, gradients, first, second, strict=True):
                m.mul_(ADAM_BETAS[0]).add_(gradient, alpha=1.0 - ADAM_BETAS[0])
                v.mul_(ADAM_BETAS[1]).addcmul_(gradient, gradient, value=1.0 - ADAM_BETAS[1])
                corrected = v / (1.0 - ADAM_BETAS[1] ** (step + 1))
                step_size = rate / (1.0 - ADAM_BETAS[0] ** (step + 1))
                parameter.sub_(step_size * m / (corrected.sqrt() + ADAM_EPS))
        if step % every == 0 or step == steps - 1:
            report(step + 1, float(loss.detach()))
    return steps


class CleanValues:
    """Layer 1: the group value networks, their inputs' scaling and evaluation on paths."""

    def __init__(self, setup: Setup, groups: TradeGroups, hidden: int, generator: torch.Generator) -> None:
        self.setup = setup
        self.groups = groups
        und = groups.underlying
        self.vol = setup.vol[und]
        self.drift = setup.drift[und]
        self.centre = setup.log_spot0[und]
        self.width = self.vol * np.sqrt(groups.maturity)
        self.scale = np.ones(len(und))
        self.networks = GroupNetworks(len(und), 3, hidden, 1, generator)

    def features(self, groups: np.ndarray, times: np.ndarray, log_spots: np.ndarray) -> np.ndarray:
        """Network inputs (len(groups), rows, 3): remaining-time share, its root and the standardised log spot
        (times and log spots (len(groups), rows))."""
        maturity = self.groups.maturity[groups][:, None]
        share = np.clip((maturity - times) / maturity, 0.0, 1.0)
        moved = (log_spots - self.centre[groups][:, None] - self.drift[groups][:, None] * times) / self.width[groups][
            :, None
        ]
        return np.stack([share, np.sqrt(share), moved], axis=-1)

    def evaluate(self, groups: np.ndarray, times: np.ndarray, log_spots: np.ndarray, slope: bool = False) -> Any:
        """f_g and (with ``slope``) ∂f_g/∂log S at (times, log spots), both (len(groups), rows); no training."""
        import torch

        features = _tensor(self.features(groups, times, log_spots))
        scale = _tensor(self.scale[groups])[:, None]
        if not slope:
            with torch.no_grad():
                return (self.networks(features, groups)[..., 0] * scale).numpy().astype(np.float64)
        features.requires_grad_()
        out = self.networks(features, groups)[..., 0] * scale
        (gradient,) = torch.autograd.grad(out.sum(), features)
        moved_slope = gradient[..., 2] / _tensor(self.width[groups])[:, None]
        return out.detach().numpy().astype(np.float64), moved_slope.numpy().astype(np.float64)

    def on_paths(self, groups: np.ndarray, time: float, log_spots: np.ndarray, slope: bool = False) -> np.ndarray:
        """f_g (or ∂f_g/∂log S with ``slope``) at ``time`` on paths, log spots (len(groups), paths): the networks
        at VALUE_NODES log spots over the paths' range, linearly interpolated."""
        low, high = log_spots.min(axis=1), log_spots.max(axis=1)
        nodes = np.linspace(low, high, VALUE_NODES).T
        at_nodes = self.evaluate(groups, np.full_like(nodes, time), nodes, slope)
        at_nodes = at_nodes[1] if slope else at_nodes
        out = np.empty(log_spots.shape)
        for i in range(len(groups)):
            if high[i] - low[i] <= 1e-12:
                out[i] = at_nodes[i, 0]
            else:
                out[i] = np.interp(log_spots[i], nodes[i], at_nodes[i])
        return out

    def book_value(self, time: float, log_spot: np.ndarray) -> np.ndarray:
        """V(time) on paths (log spots (paths, underlyings)): payoffs of the groups maturing now plus the
        networks of the groups alive."""
        maturity = self.groups.maturity
        value = np.zeros(log_spot.shape[0])
        due = np.flatnonzero(np.abs(maturity - time) <= TAU_EPS)
        if due.size:
            value += self.groups.payoff(np.exp(log_spot), due).sum(axis=1)
        alive = np.flatnonzero(maturity - time > TAU_EPS)
        if alive.size:
            learned = self.on_paths(alive, time, log_spot[:, self.groups.underlying[alive]].T)
            sign = self.groups.sign[alive][:, None]
            # the sign a group of long (short) options cannot leave, as the terminal condition is used at T
            value += np.where(sign * learned < 0.0, 0.0, learned).sum(axis=0)
        return value


def _train_clean_values(
    values: CleanValues,
    options: DeepBsdeOptions,
    rng: np.random.Generator,
    generator: torch.Generator,
    keep_going: Callable[[], bool],
    curve: list[tuple[int, float]],
    progress: Progress,
) -> bool:
    """Fit layer 1; False when stopped early."""
    import torch

    setup, groups = values.setup, values.groups
    rate = setup.inst.market.rate
    times = np.unique(np.concatenate([setup.sim_times, groups.maturity]))
    n_groups = len(groups.maturity)
    traded = np.unique(groups.underlying)
    # the training paths (one 1-D GBM per traded underlying) and the control within TRAINING_ELEMENTS
    paths = int(min(options.training_paths, max(64, TRAINING_ELEMENTS // ((len(traded) + n_groups) * len(times)))))
    samples = max(options.batch, 16_384)
    log_paths = np.empty((len(setup.vol), paths, len(times)))
    for u in traded:
        shocks = rng.standard_normal((paths, len(times) - 1))
        steps = setup.drift[u] * np.diff(times) + setup.vol[u] * np.sqrt(np.diff(times)) * shocks
        log_paths[u] = setup.log_spot0[u] + np.concatenate([np.zeros((paths, 1)), np.cumsum(steps, axis=1)], axis=1)
    last = np.searchsorted(times, groups.maturity - TAU_EPS)
    sample_paths = rng.integers(paths, size=(n_groups, samples))
    sample_dates = np.floor(rng.random((n_groups, samples)) * (last[:, None] + 1)).astype(np.intp)
    all_groups = np.arange(n_groups)
    payoff = np.empty((n_groups, paths))
    for g in all_groups:
        spots = np.ones((paths, len(setup.vol)))
        spots[:, groups.underlying[g]] = np.exp(log_paths[groups.underlying[g], :, last[g]])
        payoff[g] = groups.payoff(spots, np.array([g]))[:, 0]
    sample_times = times[sample_dates]
    discount = np.exp(-rate * (groups.maturity[:, None] - sample_times))
    sample_payoff = np.take_along_axis(payoff, sample_paths, axis=1) * discount
    values.scale = np.maximum(sample_payoff.std(axis=1), 1e-12)
    sample_log_spots = log_paths[groups.underlying[:, None], sample_paths, sample_dates]
    features = _tensor(values.features(all_groups, sample_times, sample_log_spots))
    target = _tensor(sample_payoff / values.scale[:, None])

    def loss_of(rows: torch.Tensor) -> torch.Tensor:
        return torch.mean((values.networks(features[:, rows])[..., 0] - target[:, rows]) ** 2)

    first = options.value_steps // 2
    done = _run_round(values, loss_of, samples, first, options, generator, keep_going, curve, progress, 0)
    if done < first:
        return False
    # Z from the first round's networks: the discounted martingale increments e^{−r t_l} Z_l ΔW_l along every
    # path, summed backwards, leave the target's conditional mean unchanged and remove most of its noise
    control = np.zeros((n_groups, paths, len(times)), dtype=np.float32)
    for m in range(len(times) - 1):
        live = np.flatnonzero(last > m)
        if not live.size:
            continue
        if not keep_going():
            return False
        moved = log_paths[groups.underlying[live], :, m]
        slope = values.on_paths(live, times[m], moved, slope=True)
        dt = times[m + 1] - times[m]
        increment = log_paths[groups.underlying[live], :, m + 1] - moved - values.drift[live][:, None] * dt
        control[live, :, m] = np.exp(-rate * times[m]) * slope * increment
    summed = np.cumsum(control[:, :, ::-1], axis=2, dtype=np.float64)[:, :, ::-1]
    sample_control = summed[all_groups[:, None], sample_paths, sample_dates] * np.exp(rate * sample_times)
    target = _tensor((sample_payoff - sample_control) / values.scale[:, None])
    second = options.value_steps - first
    done = _run_round(values, loss_of, samples, second, options, generator, keep_going, curve, progress, first)
    return done == second


def _run_round(
    values: CleanValues,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    samples: int,
    steps: int,
    options: DeepBsdeOptions,
    generator: torch.Generator,
    keep_going: Callable[[], bool],
    curve: list[tuple[int, float]],
    progress: Progress,
    offset: int,
) -> int:
    """One round of layer-1 training, its loss points appended to ``curve`` and logged."""

    def report(step: int, loss: float) -> None:
        curve.append((offset + step, loss))
        progress.log(f"deep_bsde layer 1 (clean values) step {offset + step}/{options.value_steps}: loss {loss:.4g}")

    # about `batch` rows per step over all groups (each group's network sees its share, at least 128)
    batch = max(128, options.batch // len(values.groups.maturity))
    return train(values.networks, loss_of, samples, batch, steps, options, generator, keep_going, report)


class InitialMargin:
    """Layer 2: one network of (t, log spots) giving the a- and (1 − a)-quantiles of ΔV over δ, in units of
    the state's delta-normal spread (:meth:`spread`, from layer 1's slopes), so the network learns a ratio near
    ±z_a that varies slowly, while the spread carries what changes fast: trades maturing, deltas moving."""

    def __init__(self, values: CleanValues, level: float, hidden: int, generator: torch.Generator) -> None:
        self.values = values
        self.level = level
        setup = values.setup
        self.traded = setup.im_underlyings
        self.horizon = setup.inst.horizon
        self.scale = 1.0
        self.floor = 0.0
        self.network = GroupNetworks(1, 1 + len(self.traded), hidden, 2, generator)

    def features(self, times: np.ndarray, log_spot: np.ndarray) -> np.ndarray:
        """Inputs (rows, 1 + traded): t/T and the traded underlyings' standardised log spots."""
        setup = self.values.setup
        u = self.traded
        moved = (log_spot[:, u] - setup.log_spot0[u] - setup.drift[u] * times[:, None]) / (
            setup.vol[u] * math.sqrt(self.horizon)
        )
        return np.concatenate([(times / self.horizon)[:, None], moved], axis=1)

    def spread(self, times: np.ndarray, log_spot: np.ndarray, one_date: bool = False) -> np.ndarray:
        """The delta-normal scale of ΔV per row, ‖hᵀL‖ with h_u = Σ of ∂f_g/∂log S · σ_u·√min(δ, T_g − t) over
        the groups g on underlying u alive at t (layer 1's slopes; ``one_date``: every row at times[0], slopes
        read off layer 1's grid), at least ``floor``."""
        setup, groups = self.values.setup, self.values.groups
        period = setup.inst.margin_period
        exposure = np.zeros((len(times), len(setup.vol)))
        for g in range(len(groups.maturity)):
            u, maturity = groups.underlying[g], groups.maturity[g]
            alive = np.flatnonzero(maturity - times > TAU_EPS)
            if not alive.size:
                continue
            one, x = np.array([g]), log_spot[alive, u][None, :]
            if one_date:
                slope = self.values.on_paths(one, float(times[0]), x, slope=True)[0]
            else:
                slope = self.values.evaluate(one, times[alive][None, :], x, slope=True)[1][0]
            exposure[alive, u] += slope * setup.vol[u] * np.sqrt(np.minimum(period, maturity - times[alive]))
        spread: np.ndarray = np.maximum(np.linalg.norm(exposure @ setup.factor, axis=1), self.floor)
        return spread

    def samples(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count`` states (t, log spots) drawn exactly from the model at the simulation dates before T, with
        one ΔV each: layer 1's value after the margin period (a group maturing inside it with its payoff,
        driven by the same standardised shock) minus its value now; and each state's spread (the floor set to
        SPREAD_FLOOR of the median spread)."""
        setup, groups = self.values.setup, self.values.groups
        dates = setup.sim_times[setup.sim_times < self.horizon - TAU_EPS]
        times = dates[rng.integers(len(dates), size=count)]
        states = np.einsum("pf,uf->pu", rng.standard_normal((count, len(setup.vol))), setup.factor)
        log_spot = setup.log_spot0 + setup.drift * times[:, None] + setup.vol * np.sqrt(times)[:, None] * states
        shocks = np.einsum("pf,uf->pu", rng.standard_normal((count, len(setup.vol))), setup.factor)
        change = np.zeros(count)
        period = setup.inst.margin_period
        for g in range(len(groups.maturity)):
            u, maturity = groups.underlying[g], groups.maturity[g]
            alive = np.flatnonzero(maturity - times > TAU_EPS)
            if not alive.size:
                continue
            t, x = times[alive], log_spot[alive, u]
            span = np.minimum(period, maturity - t)
            later = x + setup.drift[u] * span + setup.vol[u] * np.sqrt(span) * shocks[alive, u]
            one = np.array([g])
            now = self.values.evaluate(one, t[None, :], x[None, :])[0]
            after = self.values.evaluate(one, (t + span)[None, :], later[None, :])[0]
            expiring = maturity - (t + span) <= TAU_EPS
            if expiring.any():
                spots = np.ones((int(expiring.sum()), len(setup.vol)))
                spots[:, u] = np.exp(later[expiring])
                after[expiring] = groups.payoff(spots, one)[:, 0]
            change[alive] += after - now
        spread = self.spread(times, log_spot)
        self.floor = SPREAD_FLOOR * float(np.median(spread))
        return self.features(times, log_spot), change, np.maximum(spread, self.floor)

    def quantiles(self, time: float, log_spot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(received, posted) IM on paths at ``time``: max(Q_a, 0) and max(−Q_{1−a}, 0); 0 from T on."""
        import torch

        if time >= self.horizon - TAU_EPS:
            zero = np.zeros(log_spot.shape[0])
            return zero, zero
        times = np.full(log_spot.shape[0], time)
        features = _tensor(self.features(times, log_spot))[None]
        with torch.no_grad():
            out = self.network(features)[0].numpy().astype(np.float64) * self.scale
        out *= self.spread(times, log_spot, one_date=True)[:, None]
        return np.maximum(out[:, 0], 0.0), np.maximum(-out[:, 1], 0.0)


def _train_initial_margin(
    margin: InitialMargin,
    options: DeepBsdeOptions,
    rng: np.random.Generator,
    generator: torch.Generator,
    keep_going: Callable[[], bool],
    curve: list[tuple[int, float]],
    progress: Progress,
) -> bool:
    """Fit layer 2 with the pinball loss at a (first output) and 1 − a (second output); False when stopped."""
    import torch

    inputs, change, spread = margin.samples(options.quantile_samples, rng)
    ratio = change / np.maximum(spread, 1e-300)
    margin.scale = max(float(ratio.std()), 1e-12)
    features = _tensor(inputs)[None]
    target = _tensor(ratio / margin.scale)[None, :, None]
    levels = _tensor(np.array([margin.level, 1.0 - margin.level]))

    def loss_of(rows: torch.Tensor) -> torch.Tensor:
        error = target[:, rows] - margin.network(features[:, rows])
        return torch.mean(torch.maximum(levels * error, (levels - 1.0) * error))

    def report(step: int, loss: float) -> None:
        curve.append((step, loss))
        progress.log(f"deep_bsde layer 2 (initial margin) step {step}/{options.quantile_steps}: pinball {loss:.4g}")

    steps = options.quantile_steps
    batch = options.batch
    return train(margin.network, loss_of, len(change), batch, steps, options, generator, keep_going, report) == steps


@dataclass
class Training:
    """Layers 1 and 2 of every replica, as far as training got."""

    models: list[tuple[CleanValues, InitialMargin | None]]
    curves: dict[str, list[tuple[int, float]]]
    #: every replica trained all its steps
    complete: bool
    cancelled: bool
    trade_groups: int


def train_replicas(
    setup: Setup, options: DeepBsdeOptions, seed: np.random.SeedSequence, deadline: Deadline, progress: Progress
) -> Training:
    """Train ``options.replicas`` copies of layers 1 and 2, each within its equal share of
    ``training_share × time_limit_s`` (layer 1 in the first half of it when there is IM); replica 0's loss
    curves are kept."""
    import torch

    has_im = setup.im_z is not None
    budget = options.training_share * options.time_limit_s
    training_window = [deadline]
    stopped: list[Termination] = []

    def keep_going() -> bool:
        reason = training_window[0].stop_reason()
        if reason is Termination.cancelled:
            stopped.append(reason)
        return reason is None

    curves: dict[str, list[tuple[int, float]]] = {"clean_values": [], "initial_margin": []}
    models: list[tuple[CleanValues, InitialMargin | None]] = []
    complete = True
    groups = TradeGroups.of(setup.trades)
    window = budget / options.replicas
    for replica, replica_seed in enumerate(seed.spawn(options.replicas)):
        window_start = deadline.started + replica * window
        rng = np.random.default_rng(replica_seed)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        own_curves = curves if replica == 0 else {"clean_values": [], "initial_margin": []}
        training_window[0] = Deadline((0.5 if has_im else 1.0) * window, deadline.cancel, started=window_start)
        values = CleanValues(setup, groups, options.hidden, generator)
        complete &= _train_clean_values(
            values, options, rng, generator, keep_going, own_curves["clean_values"], progress
        )
        margin = None
        if has_im and not stopped:
            training_window[0] = Deadline(window, deadline.cancel, started=window_start)
            margin = InitialMargin(values, float(ndtr(setup.im_z)), options.hidden * 2, generator)
            complete &= _train_initial_margin(
                margin, options, rng, generator, keep_going, own_curves["initial_margin"], progress
            )
        if stopped:
            break
        models.append((values, margin))
    return Training(models, curves, complete, bool(stopped), len(groups.maturity))


class DeepBsdeSolver:
    """The multi-layer deep BSDE xVA solver (learned; trained per job on the CPU)."""

    name = "deep_bsde"
    Options = DeepBsdeOptions

    def solve(self, instance: Instance, options: DeepBsdeOptions, progress: Progress, cancel: Cancel) -> Result:
        """Train layers 1 and 2 within the training budget, then estimate on fresh evaluation paths."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(options.threads)
        try:
            return self._solve(instance, options, progress, cancel)
        finally:
            torch.set_num_threads(threads)

    def _solve(self, instance: Instance, options: DeepBsdeOptions, progress: Progress, cancel: Cancel) -> Result:
        deadline = Deadline(options.time_limit_s, cancel)
        setup = Setup.from_instance(instance)
        seeds = np.random.SeedSequence([instance.simulation.seed, options.seed, 0xB5DE])
        training_seed, evaluation_seed = seeds.spawn(2)
        training = train_replicas(setup, options, training_seed, deadline, progress)
        stats: dict[str, Any] = {
            "training_s": deadline.elapsed(),
            "training_complete": training.complete and not training.cancelled,
            "replicas": len(training.models),
            "trade_groups": training.trade_groups,
            "loss_curve": {name: [list(point) for point in curve] for name, curve in training.curves.items()},
        }
        if training.cancelled:
            return self._finish(None, Termination.cancelled, stats, deadline, options)
        result = self._evaluate(setup, training.models, options, evaluation_seed, progress, deadline)
        accumulator, termination, replica_means = result
        if not stats["training_complete"] and termination is Termination.optimal:
            termination = Termination.time_limit
        return self._finish(accumulator, termination, stats, deadline, options, replica_means)

    def _evaluate(
        self,
        setup: Setup,
        models: list[tuple[CleanValues, InitialMargin | None]],
        options: DeepBsdeOptions,
        seed: np.random.SeedSequence,
        progress: Progress,
        deadline: Deadline,
    ) -> tuple[PathAccumulator, Termination, np.ndarray]:
        """Layers 3 and 4 on the evaluation paths, chunk by chunk, replica r's networks on the r-th equal share
        of the paths; stops at the deadline or on cancel. Also returns each replica's adjustment means
        (replicas, adjustments; NaN where a replica valued no path)."""
        requested = setup.inst.simulation.paths
        antithetic = options.antithetic
        total = requested + (requested % 2 if antithetic else 0)
        chunk_size = setup.chunk_paths()
        accumulator = PathAccumulator(setup, total, antithetic)
        # the replicas' shares of the paths (even sizes with antithetic pairs)
        unit = 2 if antithetic else 1
        bounds = [unit * round(total / unit * r / len(models)) for r in range(len(models) + 1)]
        sums = np.zeros((len(models), len(ADJUSTMENTS)))
        counts = np.zeros(len(models))
        last_report = -math.inf

        def replica_means() -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                means: np.ndarray = sums / counts[:, None]
            return means

        while accumulator.paths < total:
            replica = int(np.searchsorted(bounds, accumulator.paths, side="right")) - 1
            values, margin = models[replica]
            n_paths = min(chunk_size, total - accumulator.paths, bounds[replica + 1] - accumulator.paths)
            rng = np.random.Generator(np.random.PCG64(seed.spawn(1)[0]))
            n_sim = len(setup.sim_times)
            book = np.empty((n_paths, n_sim))
            received, posted = np.zeros((n_paths, n_sim)), np.zeros((n_paths, n_sim))
            log_spot = np.tile(setup.log_spot0, (n_paths, 1))
            previous = 0.0
            for m, now in enumerate(setup.sim_times):
                reason = deadline.stop_reason()
                if reason is not None:
                    return accumulator, reason, replica_means()
                if m > 0:
                    shocks = np.einsum("pf,uf->pu", normals(rng, n_paths, len(setup.vol), antithetic), setup.factor)
                    log_spot += setup.drift * (now - previous) + setup.vol * np.sqrt(now - previous) * shocks
                previous = now
                if now == 0.0:
                    # today's state is known: closed-form prices and IM there, as the check requires exactly
                    today = np.exp(setup.log_spot0)[None, :]
                    book[:, m] = netting_set_value(setup.trades, today, 0.0, setup.inst.market.rate)[0]
                    if margin is not None:
                        im_today = initial_margin(setup, today, 0.0, book[:1, m])
                        received[:, m], posted[:, m] = im_today[0][0], im_today[1][0]
                    continue
                book[:, m] = values.book_value(now, log_spot)
                if margin is not None:
                    received[:, m], posted[:, m] = margin.quantiles(now, log_spot)
            simulated = options.default_probabilities == "simulated"
            chunk = settle(setup, book, received, posted, rng, antithetic, simulated, options.importance_sampling)
            accumulator.add(chunk)
            sums[replica] += [float(np.sum(chunk.adjustments[name])) for name in ADJUSTMENTS]
            counts[replica] += n_paths
            clock = time.monotonic()
            with_solution = clock - last_report >= SOLUTION_REPORT_INTERVAL_S
            progress.incumbent(
                accumulator.cva, accumulator.solution(options.default_probabilities) if with_solution else None
            )
            if with_solution:
                last_report = clock
        return accumulator, Termination.optimal, replica_means()

    def _finish(
        self,
        accumulator: PathAccumulator | None,
        termination: Termination,
        stats: dict[str, Any],
        deadline: Deadline,
        options: DeepBsdeOptions,
        replica_means: np.ndarray | None = None,
    ) -> Result:
        solve_time = deadline.elapsed()
        stats.update(solve_time_s=solve_time, wall_time_s=solve_time)
        if accumulator is None or accumulator.paths == 0:
            return Result(SolutionStatus.no_solution, termination, stats=stats)
        stats["paths_done"] = accumulator.paths
        solution = accumulator.solution(options.default_probabilities)
        if replica_means is not None:
            _with_network_error(solution, replica_means, stats)
        return Result(SolutionStatus.feasible, termination, objective=solution["cva"], solution=solution, stats=stats)


def _with_network_error(solution: dict[str, Any], replica_means: np.ndarray, stats: dict[str, Any]) -> None:
    """Widen each adjustment's standard error to the spread (sample standard deviation) of the replicas'
    estimates where it is larger: the error of one training's networks, which the evaluation's sampling
    error does not see. Deliberately not divided by √replicas: part of the networks' error is shared by
    every training (a bias: e.g. DVA beyond an IM learned with noise is biased up, the positive part being
    convex), and docs/benchmarks/xva.md measures it no larger than this spread."""
    seen = replica_means[np.all(np.isfinite(replica_means), axis=1)]
    if len(seen) < 2:
        return
    spread = seen.std(axis=0, ddof=1)
    solution["std_error"] = dict(solution["std_error"])
    stats["network_error"] = {name: float(spread[i]) for i, name in enumerate(ADJUSTMENTS)}
    for i, name in enumerate(ADJUSTMENTS):
        solution["std_error"][name] = max(float(solution["std_error"][name]), float(spread[i]))
