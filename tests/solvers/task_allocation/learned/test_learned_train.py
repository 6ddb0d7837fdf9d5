"""A tiny training run (6 labelled instances, 2 epochs of imitation, 4 reinforcement episodes) is
deterministic for a fixed seed, and its reinforcement stage uses fresh training seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solvers.task_allocation.learned.data import EVALUATION_SEEDS, TRAINING_SEEDS
from solvers.task_allocation.learned.network import Policy

torch = pytest.importorskip("torch", reason="training needs torch; the solver itself does not")


def tiny_run(path: Path, labels: Path, seed: int) -> dict[str, object]:
    """Exact labels of training instances 0..5 (cached in ``labels``), 2 epochs, 4 episodes of REINFORCE."""
    from solvers.task_allocation.learned.train import train

    return train(
        path,
        seed=seed,
        instances=6,
        labels_path=labels,
        epochs=2,
        batch_size=4,
        workers=1,
        rl_episodes=4,
        rl_samples=4,
        rl_batch=2,
        log=lambda _: None,
    )


def test_tiny_training_is_deterministic(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    first = tiny_run(tmp_path / "a.npz", labels, seed=3)
    second = tiny_run(tmp_path / "b.npz", labels, seed=3)
    assert first["labelled_instances"] == 6
    assert first["final"] == second["final"] and first["reinforce"] == second["reinforce"]
    a, b = Policy.load(tmp_path / "a.npz"), Policy.load(tmp_path / "b.npz")
    assert a.weights.keys() == b.weights.keys()
    for name in a.weights:
        assert np.array_equal(a.weights[name], b.weights[name]), name
    other = tiny_run(tmp_path / "c.npz", labels, seed=4)
    assert other["final"] != first["final"]
    assert other["reinforce"] != first["reinforce"]


def test_reinforcement_runs_on_fresh_training_seeds(tmp_path: Path) -> None:
    metadata = tiny_run(tmp_path / "a.npz", tmp_path / "labels.json", seed=0)
    reinforce = metadata["reinforce"]
    assert isinstance(reinforce, dict)
    assert reinforce["seeds"] == [TRAINING_SEEDS[6], TRAINING_SEEDS[9]]  # after the 6 labelled ones
    assert metadata["training_seeds"] == [TRAINING_SEEDS[0], TRAINING_SEEDS[9]]
    assert not set(range(TRAINING_SEEDS[0], TRAINING_SEEDS[9] + 1)) & set(EVALUATION_SEEDS)
