"""Fixtures of the knapsack_2ro tests."""

from __future__ import annotations

import pytest

from solvers.knapsack_2ro.generate import CORRELATIONS, Correlation


@pytest.fixture(params=CORRELATIONS)
def correlation(request: pytest.FixtureRequest) -> Correlation:
    """Each correlation type of the recipe."""
    value: Correlation = request.param
    return value
