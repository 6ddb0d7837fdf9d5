"""Random instances by the published recipe (Arslan & Detienne 2022, as restated by Neur2RO).

With weights cᵢ ~ U[1, R] and capacity C = ⌊h / (H + 1) · Σc⌋, Γ = budget factor · n:

* profits p̄ by correlation type: ``UN`` U[1, R]; ``WC`` U[c − R/20, c + R/20];
  ``ASC`` U[c + R/10 − R/1000, c + R/10 + R/1000]; ``SC`` c + R/10;
* degradation p̂ = p̄ · U[(1 − δ)/2, (1 + δ)/2]; penalty f = p̄ · U[1.1, 1.5];
* repair weight t: ``UN`` U[1, c]; ``WC`` U[p̂/2 − R/40, p̂/2 + R/40];
  ``ASC`` U[p̂/2 + c/10 − R/1000, p̂/2 + c/10 + R/1000]; ``SC`` p̂/2 + c/10.

Every number is rounded down to an integer, as in the published files, unless ``integral=False``: then
the numbers are the real values the recipe draws (as the Neur2RO code generates them). Profits and
weights are kept at least 1 (a weakly correlated item with small c could otherwise get a negative profit).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from solvers.base import JSON

Correlation = Literal["UN", "WC", "ASC", "SC"]
CORRELATIONS: tuple[Correlation, ...] = ("UN", "WC", "ASC", "SC")


def generate(
    seed: int,
    n: int = 20,
    correlation: Correlation = "UN",
    delta: float = 0.5,
    h: int = 40,
    budget_factor: float = 0.15,
    max_weight: int = 1000,
    capacity_denominator: int = 100,
    integral: bool = True,
) -> JSON:
    """A raw ``json`` instance; ``max_weight`` is R and ``capacity_denominator`` is H of the recipe.

    ``integral``: round every number down, as the published files are; False keeps the real values.
    """
    if correlation not in CORRELATIONS:
        raise ValueError(f"correlation must be one of {CORRELATIONS}")
    if n < 1 or max_weight < 1 or not 0 <= delta <= 1 or not 0 <= budget_factor <= 1:
        raise ValueError("need n ≥ 1, R ≥ 1, 0 ≤ δ ≤ 1 and 0 ≤ budget factor ≤ 1")
    rng = np.random.default_rng(seed)
    big_r = float(max_weight)
    weight = rng.uniform(1.0, big_r, size=n)
    if correlation == "UN":
        profit = rng.uniform(1.0, big_r, size=n)
    elif correlation == "WC":
        profit = rng.uniform(weight - big_r / 20, weight + big_r / 20)
    elif correlation == "ASC":
        profit = rng.uniform(weight + big_r / 10 - big_r / 1000, weight + big_r / 10 + big_r / 1000)
    else:
        profit = weight + big_r / 10
    profit = np.maximum(profit, 1.0)
    degradation = profit * rng.uniform((1 - delta) / 2, (1 + delta) / 2, size=n)
    penalty = profit * rng.uniform(1.1, 1.5, size=n)
    if correlation == "UN":
        repair_weight = rng.uniform(1.0, weight)
    elif correlation == "WC":
        repair_weight = rng.uniform(degradation / 2 - big_r / 40, degradation / 2 + big_r / 40)
    elif correlation == "ASC":
        center = degradation / 2 + weight / 10
        repair_weight = rng.uniform(center - big_r / 1000, center + big_r / 1000)
    else:
        repair_weight = degradation / 2 + weight / 10
    if integral:
        weight, repair_weight = np.floor(weight), np.floor(repair_weight)
        profit, degradation, penalty = np.floor(profit), np.floor(degradation), np.floor(penalty)
    weight, repair_weight = np.maximum(weight, 1.0), np.maximum(repair_weight, 1.0)
    capacity = h / (capacity_denominator + 1) * float(weight.sum())

    def number(value: float) -> float:
        return int(value) if integral else float(value)

    return {
        "format": "json",
        "capacity": number(math.floor(capacity) if integral else capacity),
        "budget": float(budget_factor * n),
        "items": [
            {
                "profit": float(profit[i]),
                "degradation": float(degradation[i]),
                "weight": number(weight[i]),
                "repair_weight": number(repair_weight[i]),
                "outsource_penalty": float(penalty[i]),
            }
            for i in range(n)
        ],
    }


def _number_text(value: float) -> str:
    """A number as exact text (integers without a decimal point)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def to_ad_text(raw: JSON) -> str:
    """The ``ad`` file text of a ``json`` instance dict (line 1 ``n C Γ``, then `` p̄ p̂ t c f``)."""
    items = raw["items"]
    lines = [f"{len(items)} {raw['capacity']} {_number_text(raw['budget'])}"]
    lines += [
        " "
        + " ".join(
            _number_text(item[key]) for key in ("profit", "degradation", "repair_weight", "weight", "outsource_penalty")
        )
        for item in items
    ]
    return "\n".join(lines) + "\n"
