"""Structural default: Brownian-bridge corrected simulation against the exact first-passage formula."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.xva.default_models import default_cdf, importance_shift, simulate_structural
from solvers.xva.schema import HazardDefault, StructuralDefault
from tests.solvers.xva.helpers import black_cox_cdf

RATE = 0.01
TIMES = np.linspace(0.0, 1.0, 51)


def _estimate(model: StructuralDefault, bridge: bool, shift: float, paths: int = 20_000) -> tuple[float, float]:
    """Mean and standard error of the simulated P(default by T)."""
    normals = np.random.default_rng(3).standard_normal((paths, len(TIMES) - 1))
    weights = simulate_structural(model, RATE, TIMES, normals, shift=shift, bridge=bridge)
    defaulted = weights.default.sum(axis=1)
    return float(defaulted.mean()), float(defaulted.std(ddof=1) / np.sqrt(paths))


def test_closed_forms_match_independent_formulas() -> None:
    structural = StructuralDefault(model="structural", asset=100.0, vol=0.25, barrier=65.0)
    hazard = HazardDefault(model="hazard", rate=0.03)
    exact = [black_cox_cdf(100.0, 65.0, 0.25, RATE, t) for t in TIMES[1:]]
    assert np.allclose(default_cdf(structural, RATE, TIMES)[1:], exact, rtol=1e-12)
    assert default_cdf(structural, RATE, TIMES)[0] == 0.0
    assert np.allclose(default_cdf(hazard, RATE, TIMES), 1 - np.exp(-0.03 * TIMES), rtol=1e-12)


@pytest.mark.parametrize("importance", [False, True])
def test_bridge_corrected_default_probability_matches_first_passage_within_3_standard_errors(
    importance: bool,
) -> None:
    model = StructuralDefault(model="structural", asset=100.0, vol=0.25, barrier=65.0)
    shift = importance_shift(model, RATE, 1.0) if importance else 0.0
    estimate, std_error = _estimate(model, bridge=True, shift=shift)
    exact = black_cox_cdf(100.0, 65.0, 0.25, RATE, 1.0)
    assert abs(estimate - exact) <= 3 * std_error


def test_grid_only_monitoring_underestimates_the_default_probability() -> None:
    model = StructuralDefault(model="structural", asset=100.0, vol=0.25, barrier=65.0)
    estimate, std_error = _estimate(model, bridge=False, shift=0.0)
    exact = black_cox_cdf(100.0, 65.0, 0.25, RATE, 1.0)
    assert exact - estimate > 5 * std_error
    assert estimate < 0.95 * exact


def test_importance_sampling_makes_rare_defaults_precise() -> None:
    model = StructuralDefault(model="structural", asset=100.0, vol=0.2, barrier=45.0)
    exact = black_cox_cdf(100.0, 45.0, 0.2, RATE, 1.0)
    _, plain_error = _estimate(model, bridge=True, shift=0.0, paths=4_000)
    shifted, shifted_error = _estimate(model, bridge=True, shift=importance_shift(model, RATE, 1.0), paths=4_000)
    assert exact < 1e-3
    assert abs(shifted - exact) <= 3 * shifted_error
    assert shifted_error < 0.05 * exact
    assert plain_error == 0.0 or shifted_error < 0.2 * plain_error


def test_survival_and_default_weights_are_consistent() -> None:
    model = StructuralDefault(model="structural", asset=100.0, vol=0.3, barrier=70.0)
    normals = np.random.default_rng(5).standard_normal((1_000, len(TIMES) - 1))
    weights = simulate_structural(model, RATE, TIMES, normals, shift=0.0)
    assert np.all(np.diff(weights.survival, axis=1) <= 1e-15)
    assert np.allclose(weights.survival[:, 0] - weights.survival[:, -1], weights.default.sum(axis=1))
