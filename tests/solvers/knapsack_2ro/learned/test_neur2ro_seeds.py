"""No evaluation instance was used for training: seed ranges and instance contents are disjoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvers.knapsack_2ro.learned.data import FRESH_EVALUATION_SEEDS, TRAINING_SEEDS, recipe
from solvers.knapsack_2ro.learned.network import ValueNetwork
from solvers.knapsack_2ro.schema import Instance, parse

PUBLISHED = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "rkp" / "instances"


def committed_training_seeds() -> range:
    """The training seeds recorded in the committed weights' metadata."""
    metadata = ValueNetwork.load().metadata
    seeds = metadata["training_seeds"]
    assert isinstance(seeds, list) and len(seeds) == 2
    return range(int(seeds[0]), int(seeds[1]) + 1)


def test_training_and_fresh_evaluation_seeds_are_disjoint() -> None:
    assert not set(TRAINING_SEEDS) & set(FRESH_EVALUATION_SEEDS)
    used = committed_training_seeds()
    assert used.start == TRAINING_SEEDS.start and used.stop <= TRAINING_SEEDS.stop
    assert not set(used) & set(FRESH_EVALUATION_SEEDS)


def test_fresh_instances_differ_from_every_training_instance() -> None:
    training = {parse(recipe(seed).raw()) for seed in committed_training_seeds()}
    fresh = {parse(recipe(seed).raw()) for seed in FRESH_EVALUATION_SEEDS}
    assert not training & fresh


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="the published instances are not in ../shared/data/rkp")
def test_no_published_instance_is_a_training_instance() -> None:
    published: set[Instance] = {
        parse({"format": "ad", "text": path.read_text()}) for path in sorted(PUBLISHED.iterdir())
    }
    assert len(published) == 504
    training = {parse(recipe(seed).raw()) for seed in committed_training_seeds()}
    assert not training & published
