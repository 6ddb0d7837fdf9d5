"""A tiny training run (6 labelled instances, 2 epochs) is deterministic for a fixed seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solvers.task_allocation.learned.network import Policy

torch = pytest.importorskip("torch", reason="training needs torch; the solver itself does not")


def tiny_run(path: Path, labels: Path, seed: int) -> dict[str, object]:
    """Exact labels of training instances 0..5 (cached in ``labels``), 2 epochs."""
    from solvers.task_allocation.learned.train import train

    return train(
        path, seed=seed, instances=6, labels_path=labels, epochs=2, batch_size=4, workers=1, log=lambda _: None
    )


def test_tiny_training_is_deterministic(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    first = tiny_run(tmp_path / "a.npz", labels, seed=3)
    second = tiny_run(tmp_path / "b.npz", labels, seed=3)
    assert first["labelled_instances"] == 6
    assert first["final"] == second["final"]
    a, b = Policy.load(tmp_path / "a.npz"), Policy.load(tmp_path / "b.npz")
    assert a.weights.keys() == b.weights.keys()
    for name in a.weights:
        assert np.array_equal(a.weights[name], b.weights[name]), name
    other = tiny_run(tmp_path / "c.npz", labels, seed=4)
    assert other["final"] != first["final"]
