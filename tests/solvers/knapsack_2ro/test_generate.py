"""The generator follows the published recipe and is reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solvers.knapsack_2ro.generate import Correlation, generate, to_ad_text
from solvers.knapsack_2ro.schema import parse


def test_same_seed_same_instance_other_seed_other_instance() -> None:
    assert generate(3, n=30, correlation="WC") == generate(3, n=30, correlation="WC")
    assert generate(3, n=30, correlation="WC") != generate(4, n=30, correlation="WC")


@pytest.mark.parametrize(("n", "h", "budget_factor"), [(20, 40, 0.1), (50, 80, 0.15), (80, 40, 0.2)])
def test_capacity_and_budget_follow_the_recipe(n: int, h: int, budget_factor: float, correlation: Correlation) -> None:
    raw = generate(1, n=n, correlation=correlation, h=h, budget_factor=budget_factor)
    weights = [item["weight"] for item in raw["items"]]
    assert raw["capacity"] == math.floor(h / 101 * sum(weights))
    assert raw["budget"] == pytest.approx(budget_factor * n)
    assert all(1 <= w <= 1000 for w in weights)
    parse(raw)  # valid
    assert parse({"format": "ad", "text": to_ad_text(raw)}) == parse(raw)


@pytest.mark.parametrize("delta", [0.1, 0.5, 1.0])
def test_profit_degradation_and_penalty_ratios(delta: float, correlation: Correlation) -> None:
    raw = generate(2, n=200, correlation=correlation, delta=delta)
    profit = np.array([item["profit"] for item in raw["items"]])
    degradation = np.array([item["degradation"] for item in raw["items"]])
    penalty = np.array([item["outsource_penalty"] for item in raw["items"]])
    weight = np.array([item["weight"] for item in raw["items"]])
    # p̂ = p̄ · U[(1 − δ)/2, (1 + δ)/2] and f = p̄ · U[1.1, 1.5] on the unrounded p̄ ∈ [profit, profit + 1)
    assert np.all(degradation <= (profit + 1) * (1 + delta) / 2)
    assert np.all(degradation >= np.floor(profit * (1 - delta) / 2) - 1)
    assert np.all(penalty >= np.floor(1.1 * profit) - 1) and np.all(penalty <= 1.5 * (profit + 1))
    assert np.all(penalty >= profit)
    if correlation == "SC":
        assert np.all(np.abs(profit - (weight + 100)) <= 1)
    if correlation == "ASC":
        assert np.all(np.abs(profit - (weight + 100)) <= 2)
    if correlation == "WC":
        assert np.all(np.abs(profit - weight) <= 51)


def test_unknown_correlation_is_refused() -> None:
    with pytest.raises(ValueError):
        generate(0, correlation="XX")  # type: ignore[arg-type]  # a value outside the type, on purpose
