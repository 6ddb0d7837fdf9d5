"""Training of predict_and_search's network: deterministic, the numpy forward pass is torch's, and the
committed models and labels come from training seeds only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, generate
from solvers.milp.learned.families import FAMILY_SIZES, HELD_OUT_SEEDS, TRAINING_SEEDS
from solvers.milp.learned.features import graph_features
from solvers.milp.learned.labels import Incumbents, LabelSet, labels_path, soft_labels
from solvers.milp.learned.network import GraphNetwork, available_models, model_path
from solvers.milp.learned.train import Sample, train


def _tiny_samples() -> list[Sample]:
    samples = []
    for seed in range(3):
        model = KIND.parse(generate(seed, "combinatorial_auction", items=8, bids=30))
        # a label that depends on the data: the bids priced above the median are the likely ones
        labels = (model.obj > np.median(model.obj)).astype(float)
        samples.append(Sample(seed, graph_features(model), labels))
    return samples


def test_a_tiny_training_run_is_deterministic_and_numpy_computes_what_torch_trained() -> None:
    samples = _tiny_samples()
    first = train(samples[:2], samples[2:], epochs=15, log=lambda _: None)
    second = train(samples[:2], samples[2:], epochs=15, log=lambda _: None)
    assert first.weights.keys() == second.weights.keys()
    assert all(np.array_equal(first.weights[k], second.weights[k]) for k in first.weights)
    # the numpy forward pass reproduces the loss torch measured on the same weights
    losses = []
    for sample in samples[:2]:
        p = first.probabilities(sample.graph)[sample.graph.binary]
        y = sample.labels[sample.graph.binary]
        losses.append(float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))))
    assert np.mean(losses) == pytest.approx(first.metadata["train_loss"], abs=1e-4)
    assert first.metadata["train_loss"] < np.log(2)  # it learned something beyond a coin flip


def test_saved_weights_predict_the_same(tmp_path: Path) -> None:
    samples = _tiny_samples()
    network = train(samples[:2], epochs=2, log=lambda _: None)
    path = tmp_path / "model.npz"
    network.save(path)
    loaded = GraphNetwork.load(path)
    assert np.allclose(loaded.probabilities(samples[2].graph), network.probabilities(samples[2].graph), atol=1e-5)


def test_soft_labels_weight_better_incumbents_more() -> None:
    incumbents = Incumbents(np.array([110.0, 100.0]), np.array([[1.0, 0.0], [0.0, 1.0]]), "time_limit")
    labels = soft_labels("minimize", incumbents, temperature=0.05)
    # weights ∝ exp(−(z − 100) / (0.05 · 100)): exp(−2) for the worse one
    worse = np.exp(-2.0) / (1 + np.exp(-2.0))
    assert labels == pytest.approx([worse, 1 - worse])
    # maximising, 110 is the best: the other one's weight is exp(−10 / (0.05 · 110))
    worse = np.exp(-10 / 5.5) / (1 + np.exp(-10 / 5.5))
    assert soft_labels("maximize", incumbents, temperature=0.05) == pytest.approx([1 - worse, worse])


def test_every_family_has_a_committed_model_trained_on_training_seeds_only() -> None:
    assert available_models() == sorted(FAMILIES)
    for family in FAMILIES:
        network = GraphNetwork.load(model_path(family))
        labels = LabelSet.load(labels_path(family))
        used = set(network.metadata["training_seeds"]) | set(network.metadata["validation_seeds"])
        assert used == set(labels.seeds) and used <= set(TRAINING_SEEDS)
        assert not used & set(HELD_OUT_SEEDS)
        assert network.metadata["family"] == family
        assert f"--family {family}" in network.metadata["command"]
        assert labels.metadata["sizes"] == FAMILY_SIZES[family]  # trained at the sizes the benchmark uses
