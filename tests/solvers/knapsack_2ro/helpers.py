"""Helpers shared by the knapsack_2ro tests."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from solvers.knapsack_2ro.evaluation import Data
from solvers.knapsack_2ro.generate import Correlation, generate
from solvers.knapsack_2ro.schema import Instance, parse

DATA_DIR = Path(__file__).parent / "data"


class SetAfter:
    """A Cancel that becomes set after it has been polled ``polls`` times."""

    def __init__(self, polls: int) -> None:
        self.remaining = polls

    def is_set(self) -> bool:
        self.remaining -= 1
        return self.remaining < 0


def published(name: str) -> Instance:
    """A published instance copied into tests/solvers/knapsack_2ro/data."""
    return parse({"format": "ad", "text": (DATA_DIR / name).read_text()})


def published_reference() -> dict[str, float]:
    """Branch-and-price's proven optima of the copied instances (reference_results.csv)."""
    with (DATA_DIR / "reference.csv").open() as handle:
        return {row["instance"]: float(row["bp_best_profit"]) for row in csv.DictReader(handle)}


def small_instance(seed: int, n: int = 6, correlation: Correlation = "UN", integral: bool = True) -> Instance:
    """A generated instance small enough to enumerate (R = 60 keeps the capacity small); real-valued
    data when not ``integral``."""
    raw = generate(seed, n=n, correlation=correlation, delta=0.5, budget_factor=0.35, max_weight=60, integral=integral)
    return parse(raw)


def all_binary(n: int) -> list[np.ndarray]:
    """Every 0/1 vector of length n."""
    return [np.array(bits, dtype=np.bool_) for bits in itertools.product((False, True), repeat=n)]


def all_reactions(data: Data, selected: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every feasible (y, r) with r ≤ y ≤ x within the capacity, by enumeration."""
    out = []
    for choice in itertools.product((0, 1, 2), repeat=data.n):
        levels = np.array(choice)
        produce, repair = levels >= 1, levels == 2
        if np.any(produce & ~selected):
            continue
        if data.weight @ produce + data.repair_weight @ repair <= data.capacity:
            out.append((produce, repair))
    return out
