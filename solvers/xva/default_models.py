"""Default probabilities: closed forms (hazard, Black–Cox first passage) and the simulated structural model.

The simulated model monitors the asset on the exposure grid and corrects for crossings between dates with
the Brownian-bridge crossing probability exp(−2·y_{k−1}·y_k / (s²Δt)) (y = log distance to the barrier);
rare defaults are made frequent by a drift change of the asset's Brownian motion, undone by the
likelihood ratio exp(θW_t + θ²t/2) (W the simulated, shifted Brownian motion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from solvers.xva.schema import HazardDefault, StructuralDefault


def default_cdf(model: HazardDefault | StructuralDefault, rate: float, times: np.ndarray) -> np.ndarray:
    """F(t) = P(default by t) in closed form: 1 − e^{−λt}, or Black–Cox continuous first passage."""
    t = np.asarray(times, dtype=np.float64)
    if isinstance(model, HazardDefault):
        out: np.ndarray = -np.expm1(-model.rate * t)
        return out
    drift = rate - 0.5 * model.vol**2
    log_barrier = np.log(model.barrier / model.asset)
    positive = t > 0
    t_pos = np.where(positive, t, 1.0)
    sd = model.vol * np.sqrt(t_pos)
    reflected = np.exp(2.0 * drift * log_barrier / model.vol**2) * ndtr((log_barrier + drift * t_pos) / sd)
    cdf = ndtr((log_barrier - drift * t_pos) / sd) + reflected
    out = np.where(positive, np.clip(cdf, 0.0, 1.0), 0.0)
    return out


def importance_shift(model: StructuralDefault, rate: float, horizon: float) -> float:
    """θ ≥ 0 making the asset's median path under the shifted measure reach the barrier at the horizon."""
    drift = rate - 0.5 * model.vol**2
    distance = np.log(model.asset / model.barrier)
    return max(0.0, float((drift + distance / horizon) / model.vol))


@dataclass(frozen=True)
class PathDefaultWeights:
    """Per path: likelihood-weighted survival to t_k and default in (t_{k−1}, t_k], shape (paths, N+1)."""

    survival: np.ndarray
    default: np.ndarray


def simulate_structural(
    model: StructuralDefault,
    rate: float,
    times: np.ndarray,
    normals: np.ndarray,
    shift: float = 0.0,
    bridge: bool = True,
) -> PathDefaultWeights:
    """Weights whose path average estimates S(t_k) and PD_k of the structural model.

    Survival is 1 − the cumulated default weights (not the likelihood-weighted conditional survival),
    so it inherits the low variance that importance sampling gives the default weights.

    ``normals`` (paths, N) drive the asset on the grid ``times`` (N+1 dates from 0); ``shift`` is the
    drift change θ; with ``bridge`` the conditional probability of crossing between two dates is used,
    without it only the grid dates are monitored (biased low, kept for comparison).
    """
    dt = np.diff(times)
    drift = rate - 0.5 * model.vol**2
    brownian = np.cumsum(normals * np.sqrt(dt) - shift * dt, axis=1)
    n_paths = normals.shape[0]
    zeros = np.zeros((n_paths, 1))
    brownian = np.concatenate([zeros, brownian], axis=1)
    distance = np.log(model.asset / model.barrier) + drift * times + model.vol * brownian
    below = distance <= 0.0
    if bridge:
        with np.errstate(over="ignore"):
            crossing = np.exp(
                -2.0 * np.maximum(distance[:, :-1], 0.0) * np.maximum(distance[:, 1:], 0.0) / (model.vol**2 * dt)
            )
        crossing = np.where(below[:, 1:] | below[:, :-1], 1.0, crossing)
    else:
        crossing = below[:, 1:].astype(np.float64)
    conditional_survival = np.concatenate([np.ones((n_paths, 1)), np.cumprod(1.0 - crossing, axis=1)], axis=1)
    likelihood = np.exp(shift * brownian + 0.5 * shift**2 * times)
    default = np.zeros_like(conditional_survival)
    default[:, 1:] = likelihood[:, 1:] * (conditional_survival[:, :-1] - conditional_survival[:, 1:])
    survival = 1.0 - np.cumsum(default, axis=1)
    return PathDefaultWeights(survival=survival, default=default)
