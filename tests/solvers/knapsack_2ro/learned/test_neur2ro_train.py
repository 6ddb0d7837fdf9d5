"""A tiny training run (300 labels, 2 epochs) is deterministic for a fixed seed. Needs torch (skipped without)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solvers.knapsack_2ro.learned.network import ValueNetwork

torch = pytest.importorskip("torch", reason="training needs torch; the solver itself does not")


def tiny_run(path: Path, seed: int) -> dict[str, object]:
    """300 labels from 6 training instances, 2 epochs."""
    from solvers.knapsack_2ro.learned.train import train

    return train(path, seed=seed, instances=6, selections=5, scenarios=10, epochs=2, workers=1, log=lambda _: None)


def test_tiny_training_is_deterministic(tmp_path: Path) -> None:
    first = tiny_run(tmp_path / "a.npz", seed=3)
    second = tiny_run(tmp_path / "b.npz", seed=3)
    assert first["labels"] == 300
    assert first["validation_mse"] == second["validation_mse"]
    a, b = ValueNetwork.load(tmp_path / "a.npz"), ValueNetwork.load(tmp_path / "b.npz")
    for left, right in zip(a.item_layers + a.pooled_layers, b.item_layers + b.pooled_layers, strict=True):
        assert np.array_equal(left.weight, right.weight) and np.array_equal(left.bias, right.bias)
    other = tiny_run(tmp_path / "c.npz", seed=4)
    assert other["validation_mse"] != first["validation_mse"]
