"""The value network: the MILP embedding reproduces the numpy forward pass; weights load and stay small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solvers.knapsack_2ro.evaluation import Data, first_stage_profit
from solvers.knapsack_2ro.generate import generate
from solvers.knapsack_2ro.learned.embedding import MainProblem
from solvers.knapsack_2ro.learned.network import FEATURES, WEIGHTS_PATH, Layer, ValueNetwork
from solvers.knapsack_2ro.schema import parse


def random_network(seed: int) -> ValueNetwork:
    """An untrained network with spread-out biases (so some units are always off or always on)."""
    rng = np.random.default_rng(seed)

    def layer(inputs: int, outputs: int) -> Layer:
        return Layer(rng.normal(0, 1 / np.sqrt(inputs), (outputs, inputs)), rng.normal(0, 0.5, outputs))

    return ValueNetwork(
        item_layers=(layer(FEATURES, 12), layer(12, 6)),
        pooled_layers=(layer(6, 10), layer(10, 5), layer(5, 1)),
        feature_mean=rng.normal(0, 1, FEATURES),
        feature_std=rng.uniform(0.5, 2.0, FEATURES),
        metadata={"test": True},
    )


def networks() -> list[ValueNetwork]:
    """Two random networks and the committed one."""
    return [random_network(1), random_network(2), ValueNetwork.load()]


def random_scenario(data: Data, rng: np.random.Generator) -> np.ndarray:
    """A point of the budget set."""
    xi: np.ndarray = rng.uniform(0, 1, data.n)
    return xi * min(1.0, data.budget / float(xi.sum()))


@pytest.mark.parametrize("network_index", range(3))
@pytest.mark.parametrize("seed", range(3))
def test_embedding_reproduces_the_forward_pass_for_fixed_selections(network_index: int, seed: int) -> None:
    network = networks()[network_index]
    rng = np.random.default_rng(seed)
    data = Data.of(parse(generate(seed, n=int(rng.integers(5, 40)), correlation="WC")))
    scenarios = [random_scenario(data, rng) for _ in range(3)]
    for _ in range(3):
        selected = rng.random(data.n) < rng.uniform(0.2, 0.8)
        main = MainProblem(data, network)
        for xi in scenarios:
            main.add_scenario(xi)
        main.fix(selected)
        solution = main.solve(30.0, lambda: False, rel_gap=0.0)
        assert solution is not None and solution.proven_optimal
        assert np.array_equal(solution.selected, selected)
        expected = first_stage_profit(data, selected) + min(network.predict(data, selected, xi) for xi in scenarios)
        assert solution.predicted == pytest.approx(expected, rel=1e-6, abs=1e-6 * data.n)


@pytest.mark.parametrize("seed", range(2))
def test_main_problem_optimum_matches_enumeration_of_the_network(seed: int) -> None:
    network = random_network(10 + seed)
    rng = np.random.default_rng(seed)
    data = Data.of(parse(generate(seed, n=8, correlation="UN")))
    scenarios = [random_scenario(data, rng) for _ in range(2)]
    main = MainProblem(data, network)
    for xi in scenarios:
        main.add_scenario(xi)
    solution = main.solve(30.0, lambda: False, rel_gap=0.0)
    every = [np.array([(k >> i) & 1 for i in range(data.n)], dtype=np.bool_) for k in range(2**data.n)]
    values = [first_stage_profit(data, x) + min(network.predict(data, x, xi) for xi in scenarios) for x in every]
    assert solution is not None
    assert solution.predicted == pytest.approx(max(values), rel=1e-6, abs=1e-6)


def test_no_good_cut_excludes_the_selection() -> None:
    network = random_network(3)
    data = Data.of(parse(generate(4, n=8, correlation="SC")))
    main = MainProblem(data, network)
    main.add_scenario(np.zeros(data.n))
    first = main.solve(30.0, lambda: False, rel_gap=0.0)
    assert first is not None
    main.exclude(first.selected)
    second = main.solve(30.0, lambda: False, rel_gap=0.0)
    assert second is not None and not np.array_equal(first.selected, second.selected)
    assert second.predicted <= first.predicted + 1e-9


def test_weights_round_trip_and_committed_file_is_small(tmp_path: Path) -> None:
    network = random_network(4)
    network.save(tmp_path / "w.npz")
    loaded = ValueNetwork.load(tmp_path / "w.npz")
    data = Data.of(parse(generate(0, n=10)))
    selected = np.ones(data.n)
    xi = np.full(data.n, 0.1)
    assert loaded.predict(data, selected, xi) == network.predict(data, selected, xi)
    assert loaded.metadata == {"test": True}
    assert WEIGHTS_PATH.stat().st_size <= 5 * 1024 * 1024
    assert "command" in ValueNetwork.load().metadata
