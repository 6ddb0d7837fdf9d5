"""Graph features and trust-region decoding of predict_and_search, on hand-made models."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, generate
from solvers.milp.learned.families import HELD_OUT_SEEDS, TRAINING_SEEDS, recognise_family
from solvers.milp.learned.features import CONSTRAINT_FEATURES, VARIABLE_FEATURES, graph_features
from solvers.milp.learned.solver import TRUST_REGION_ROW, restricted_model, trust_region
from solvers.milp.schema import MilpModel

HAND_MADE: dict[str, Any] = {
    "format": "json",
    "sense": "minimize",
    "variables": [
        {"name": "x0", "type": "binary", "obj": 2.0},
        {"name": "x1", "type": "integer", "lb": 0, "ub": 5, "obj": -4.0},
        {"name": "x2", "type": "continuous", "lb": -1, "ub": None, "obj": 0.0},
    ],
    "constraints": [
        {"name": "r0", "terms": {"x0": 1.0, "x1": 2.0}, "lb": None, "ub": 4.0},
        {"name": "r1", "terms": {"x0": -1.0, "x2": 1.0}, "lb": 1.0, "ub": None},
        {"name": "r2", "terms": {"x1": 1.0, "x2": 1.0}, "lb": 3.0, "ub": 3.0},
    ],
}


def _column(names: tuple[str, ...], name: str) -> int:
    return names.index(name)


def test_variable_and_constraint_features_of_a_hand_made_model() -> None:
    graph = graph_features(KIND.parse(HAND_MADE))
    v, c = graph.variables, graph.constraints

    def var(name: str) -> np.ndarray:
        return v[:, _column(VARIABLE_FEATURES, name)]

    def con(name: str) -> np.ndarray:
        return c[:, _column(CONSTRAINT_FEATURES, name)]

    assert var("objective") == pytest.approx([0.5, -1.0, 0.0])
    assert list(var("binary")) == [1, 0, 0] and list(var("integer")) == [0, 1, 0]
    assert list(var("continuous")) == [0, 0, 1] and list(graph.binary) == [True, False, False]
    assert list(var("upper_finite")) == [1, 1, 0]
    assert var("lower") == pytest.approx([0.0, 0.0, -math.log(2)])
    assert var("degree") == pytest.approx([1.0, 1.0, 1.0])
    # rows scaled by their largest coefficient: r0 = (0.5, 1, 0), r1 = (-1, 0, 1), r2 = (0, 1, 1)
    assert var("coefficient_mean") == pytest.approx([-0.25, 1.0, 1.0])
    assert var("coefficient_min") == pytest.approx([-1.0, 1.0, 1.0])
    assert var("coefficient_max") == pytest.approx([0.5, 1.0, 1.0])
    assert list(con("less_equal")) == [1, 0, 0] and list(con("greater_equal")) == [0, 1, 0]
    assert list(con("equality")) == [0, 0, 1] and list(con("ranged")) == [0, 0, 0]
    assert con("rhs") == pytest.approx([math.log(3), math.log(2), math.log(4)])
    assert con("objective_cosine")[0] == pytest.approx(-3 / (math.sqrt(1.25) * math.sqrt(20)))
    assert graph.to_constraints.toarray()[0] == pytest.approx([0.25, 0.5, 0.0])
    assert graph.to_variables.toarray()[2] == pytest.approx([0.0, 0.5, 0.5])


def test_maximisation_is_read_as_minimising_the_negated_objective() -> None:
    minimise = graph_features(KIND.parse(HAND_MADE))
    flipped = dict(HAND_MADE, sense="maximize")
    flipped["variables"] = [dict(var, obj=-var["obj"]) for var in HAND_MADE["variables"]]
    maximise = graph_features(KIND.parse(flipped))
    assert np.allclose(minimise.variables, maximise.variables)
    assert np.allclose(minimise.constraints, maximise.constraints)


def test_trust_region_takes_the_likeliest_zeros_and_ones_and_allows_delta_flips() -> None:
    probabilities = np.array([0.9, 0.1, 0.5, 0.2, 0.8, 0.05])
    binary = np.array([True, True, False, True, True, True])
    region = trust_region(probabilities, binary, zeros_share=0.4, ones_share=0.2, delta_share=0.5)
    assert list(region.zeros) == [1, 5] and list(region.ones) == [0] and region.delta == 2
    model = KIND.parse(
        {
            "format": "json",
            "sense": "minimize",
            "variables": [{"name": f"x{j}", "type": "binary", "obj": 1.0} for j in range(6)],
            "constraints": [],
        }
    )
    restricted = restricted_model(model, region)
    assert restricted.row_names == [TRUST_REGION_ROW] and restricted.var_names == model.var_names
    row_ub = restricted.row_ub[-1]

    def within(x: list[float]) -> bool:
        return bool((restricted.matrix @ np.array(x, dtype=float))[-1] <= row_ub + 1e-9)

    assert within([1, 0, 0, 0, 0, 0])  # the guess itself
    assert within([0, 1, 1, 1, 1, 0])  # two of S0 ∪ S1 flipped; free binaries do not count
    assert not within([0, 1, 0, 0, 0, 1])  # three flipped


def test_each_family_is_recognised_and_a_changed_model_is_not() -> None:
    for family in FAMILIES:
        assert recognise_family(KIND.parse(generate(3, family, size=30))) == family
    other: MilpModel = KIND.parse(generate(3, "set_cover", size=30))
    other.matrix.data[0] = 2.0
    assert recognise_family(other) is None
    assert recognise_family(KIND.parse(HAND_MADE)) is None


def test_held_out_seeds_are_disjoint_from_training_seeds() -> None:
    assert not set(HELD_OUT_SEEDS) & set(TRAINING_SEEDS)
    assert len(HELD_OUT_SEEDS) >= 30
