"""Seeded training data: generated instances, sampled (x, ξ) pairs and their exact second-stage values.

Training instances come from :func:`solvers.knapsack_2ro.generate.generate` with seeds in
:data:`TRAINING_SEEDS`; the fresh evaluation set uses :data:`FRESH_EVALUATION_SEEDS` and options are
chosen on :data:`DEVELOPMENT_SEEDS`, ranges disjoint from it and from each other.
The 504 published instances are files and are never generated. Labels are the exact second-stage
values Q(x, ξ) from the dynamic program of :func:`solvers.knapsack_2ro.evaluation.second_stage`.
"""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solvers.knapsack_2ro.evaluation import Data, second_stage
from solvers.knapsack_2ro.generate import CORRELATIONS, generate
from solvers.knapsack_2ro.learned.network import FEATURES, item_features, value_scale
from solvers.knapsack_2ro.schema import parse

#: Seeds of training (and validation) instances: instance k has seed TRAINING_SEEDS[k].
TRAINING_SEEDS = range(10_000_000, 10_100_000)
#: Seeds of the "100 fresh instances" evaluation set, disjoint from training.
FRESH_EVALUATION_SEEDS = range(20_000_000, 20_000_100)
#: Seeds of the development set, on which the solver's options are chosen; disjoint from both above.
DEVELOPMENT_SEEDS = range(30_000_000, 30_000_100)
#: Item counts, capacity ratios h, budget factors and δ of the published grid (R = 1000, H = 100).
ITEM_COUNTS = (20, 30, 40, 50, 60, 70, 80)
CAPACITY_RATIOS = (40, 80)
BUDGET_FACTORS = (0.1, 0.15, 0.2)
DELTAS = (0.1, 0.5, 1.0)


@dataclass(frozen=True)
class Recipe:
    """Parameters of one generated instance."""

    seed: int
    n: int
    correlation: str
    h: int
    budget_factor: float
    delta: float

    def raw(self, integral: bool = True) -> dict[str, object]:
        """The raw instance dict; ``integral=False`` keeps the recipe's real-valued numbers."""
        return generate(
            self.seed,
            n=self.n,
            correlation=self.correlation,  # type: ignore[arg-type]
            delta=self.delta,
            h=self.h,
            budget_factor=self.budget_factor,
            integral=integral,
        )


def recipe(seed: int) -> Recipe:
    """The instance parameters drawn (uniformly over the published grid) from ``seed``."""
    rng = np.random.default_rng([seed, 1])
    return Recipe(
        seed=seed,
        n=int(rng.choice(ITEM_COUNTS)),
        correlation=str(rng.choice(CORRELATIONS)),
        h=int(rng.choice(CAPACITY_RATIOS)),
        budget_factor=float(rng.choice(BUDGET_FACTORS)),
        delta=float(rng.choice(DELTAS)),
    )


def sample_selection(data: Data, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    """A first-stage selection: items in random order, by efficiency or at random, up to κ·C, κ ~ U[0.6, 1.6]."""
    n = data.n
    if rng.random() < 0.5:
        order = rng.permutation(n)
    else:  # noisy efficiency order, close to what good selections look like
        efficiency = data.profit / np.maximum(data.weight, 1) * rng.lognormal(0.0, 0.3, size=n)
        order = np.argsort(-efficiency)
    limit = rng.uniform(0.6, 1.6) * data.capacity
    selected = np.zeros(n, dtype=np.bool_)
    used = 0
    for i in order:
        if used + data.weight[i] <= limit:
            selected[i] = True
            used += int(data.weight[i])
    return selected


def sample_scenario(data: Data, selected: npt.NDArray[np.bool_], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A scenario in {0 ≤ ξ ≤ 1, Σξ ≤ Γ}, mostly on selected items (where it matters), often a vertex."""
    n = data.n
    support = np.flatnonzero(selected) if selected.any() and rng.random() < 0.85 else np.arange(n)
    total = data.budget * rng.uniform(0.3, 1.0) if rng.random() < 0.3 else data.budget
    xi = np.zeros(n)
    if rng.random() < 0.5:  # a vertex: whole units on high-degradation items, then the fraction
        score = data.degradation[support] * rng.lognormal(0.0, 0.5, size=support.size)
        remaining = total
        for i in support[np.argsort(-score)]:
            xi[i] = min(1.0, remaining)
            remaining -= xi[i]
            if remaining <= 0:
                break
    else:  # spread over a random subset
        count = int(rng.integers(1, min(support.size, max(1, math.ceil(2 * total))) + 1))
        chosen = rng.choice(support, size=count, replace=False)
        shares = rng.dirichlet(np.ones(count)) * total
        xi[chosen] = np.minimum(shares, 1.0)
    return xi


@dataclass(frozen=True)
class Samples:
    """Labelled samples, items padded to ``max_items`` (padding has x = 0)."""

    features: npt.NDArray[np.float32]
    """(samples, max_items, FEATURES) item features under the sample's scenario."""
    selected: npt.NDArray[np.float32]
    """(samples, max_items) the selection x (0 on padding)."""
    items: npt.NDArray[np.float32]
    """(samples,) n of the sample's instance."""
    target: npt.NDArray[np.float32]
    """(samples,) Q(x, ξ) / (n · s)."""
    instance: npt.NDArray[np.int64]
    """(samples,) index of the instance the sample comes from."""


def instance_samples(index: int, selections: int, scenarios: int, max_items: int = max(ITEM_COUNTS)) -> Samples:
    """``selections`` × ``scenarios`` labelled samples of training instance ``index``."""
    seed = TRAINING_SEEDS[index]
    data = Data.of(parse(recipe(seed).raw()))
    rng = np.random.default_rng([seed, 2])
    count = selections * scenarios
    features = np.zeros((count, max_items, FEATURES), dtype=np.float32)
    selected_out = np.zeros((count, max_items), dtype=np.float32)
    target = np.zeros(count, dtype=np.float32)
    scale = data.n * value_scale(data)
    row = 0
    for _ in range(selections):
        selected = sample_selection(data, rng)
        for _ in range(scenarios):
            xi = sample_scenario(data, selected, rng)
            value, _ = second_stage(data, selected, xi)
            features[row, : data.n] = item_features(data, xi)
            selected_out[row, : data.n] = selected
            target[row] = value / scale
            row += 1
    return Samples(
        features=features,
        selected=selected_out,
        items=np.full(count, data.n, dtype=np.float32),
        target=target,
        instance=np.full(count, index, dtype=np.int64),
    )


def _instance_samples_task(args: tuple[int, int, int]) -> Samples:
    """Picklable wrapper of :func:`instance_samples` for a process pool."""
    return instance_samples(*args)


def build_dataset(instances: int, selections: int, scenarios: int, workers: int = 1) -> Samples:
    """Samples of training instances 0..instances−1 (deterministic whatever ``workers`` is)."""
    if not 1 <= instances <= len(TRAINING_SEEDS):
        raise ValueError(f"instances must be between 1 and {len(TRAINING_SEEDS)}")
    tasks = [(index, selections, scenarios) for index in range(instances)]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_instance_samples_task, tasks, chunksize=4)
    else:
        parts = [_instance_samples_task(task) for task in tasks]
    return Samples(
        features=np.concatenate([p.features for p in parts]),
        selected=np.concatenate([p.selected for p in parts]),
        items=np.concatenate([p.items for p in parts]),
        target=np.concatenate([p.target for p in parts]),
        instance=np.concatenate([p.instance for p in parts]),
    )
