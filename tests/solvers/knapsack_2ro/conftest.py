"""Fixtures of the knapsack_2ro tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["UN", "WC", "ASC", "SC"])
def correlation(request: pytest.FixtureRequest) -> str:
    """Each correlation type of the recipe."""
    value: str = request.param
    return value
