"""No evaluation instance was used for training: seed ranges and instance contents are disjoint."""

from __future__ import annotations

import json

from solvers.task_allocation.learned.data import DEVELOPMENT_SEEDS, EVALUATION_SEEDS, TRAINING_SEEDS, recipe
from solvers.task_allocation.learned.network import Policy


def committed_training_seeds() -> range:
    """The training seeds recorded in the committed weights' metadata."""
    seeds = Policy.load().metadata["training_seeds"]
    assert isinstance(seeds, list)
    return range(int(seeds[0]), int(seeds[1]) + 1)


def test_training_and_evaluation_seeds_are_disjoint() -> None:
    assert not set(TRAINING_SEEDS) & set(EVALUATION_SEEDS)
    used = committed_training_seeds()
    assert used.start == TRAINING_SEEDS.start and used.stop <= TRAINING_SEEDS.stop
    assert not set(used) & set(EVALUATION_SEEDS)


def test_development_seeds_were_never_trained_on_and_are_not_evaluation_seeds() -> None:
    assert not set(DEVELOPMENT_SEEDS) & set(EVALUATION_SEEDS)
    assert not set(DEVELOPMENT_SEEDS) & set(committed_training_seeds())


def test_benchmark_instances_differ_from_every_training_instance() -> None:
    def key(seed: int) -> str:
        return json.dumps(recipe(seed).raw(), sort_keys=True)

    training = {key(seed) for seed in committed_training_seeds()}
    held_out = {key(seed) for seed in EVALUATION_SEEDS[:100]}
    assert len(held_out) == 100
    assert not training & held_out
