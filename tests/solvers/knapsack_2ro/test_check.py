"""check(): recomputes the worst case from the selection alone and never raises."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.knapsack_2ro.check import check
from solvers.knapsack_2ro.evaluation import Data, evaluate, solution_dict
from solvers.knapsack_2ro.schema import Instance
from tests.solvers.knapsack_2ro.helpers import small_instance

INSTANCE: Instance = small_instance(5, n=6)


def certified_solution(selected: list[int]) -> dict[str, Any]:
    """A solution with the exact worst case of ``selected``."""
    data = Data.of(INSTANCE)
    chosen = np.array(selected, dtype=np.bool_)
    return solution_dict(data, chosen, evaluate(data, chosen))


def test_objective_is_recomputed_not_copied() -> None:
    solution = certified_solution([1, 1, 0, 1, 0, 1])
    honest = check(INSTANCE, solution)
    assert honest.feasible and honest.max_violation == 0.0
    tampered = copy.deepcopy(solution)
    tampered["worst_case"]["xi"] = [0.0] * INSTANCE.n  # a milder scenario than the worst one
    tampered["worst_case"]["produce"] = [0] * INSTANCE.n
    tampered["worst_case"]["repair"] = [0] * INSTANCE.n
    verdict = check(INSTANCE, tampered)
    assert verdict.feasible and verdict.objective == honest.objective


def test_selection_alone_is_enough() -> None:
    alone = check(INSTANCE, {"selected": [1, 0, 1, 0, 1, 0]})
    with_worst_case = check(INSTANCE, certified_solution([1, 0, 1, 0, 1, 0]))
    assert alone.feasible and alone.objective == with_worst_case.objective


def test_empty_selection_is_worth_nothing() -> None:
    verdict = check(INSTANCE, {"selected": [0] * INSTANCE.n})
    assert verdict.feasible and verdict.objective == 0.0


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"xi": [1.0] * 6}, "budget"),
        ({"xi": [-0.5, 0, 0, 0, 0, 0]}, "below 0"),
        ({"produce": [1, 1, 1, 1, 1, 1], "repair": [1, 1, 1, 1, 1, 1]}, "capacity"),
        ({"produce": [0, 0, 1, 0, 0, 0], "repair": [0, 0, 0, 0, 0, 0]}, "produce without select"),
        ({"produce": [0, 0, 0, 0, 0, 0], "repair": [1, 0, 0, 0, 0, 0]}, "repair without produce"),
    ],
)
def test_an_invalid_worst_case_block_is_infeasible(change: dict[str, Any], what: str) -> None:
    solution = certified_solution([1, 1, 0, 1, 1, 1])
    solution["worst_case"].update(change)
    verdict = check(INSTANCE, solution)
    assert not verdict.feasible and verdict.max_violation > 0 and what in verdict.message


@pytest.mark.parametrize(
    "solution",
    [
        None,
        [],
        {},
        {"selected": [1, 0]},
        {"selected": [2, 0, 0, 0, 0, 0]},
        {"selected": [True, False, False, False, False, False]},
        {"selected": "101010"},
        {"selected": [1, 0, 1, 0, 1, 0], "extra": 1},
        {"selected": [1, 0, 1, 0, 1, 0], "worst_case": {"xi": [0.1] * 6}},
        {
            "selected": [1, 0, 1, 0, 1, 0],
            "worst_case": {"xi": [float("nan")] * 6, "produce": [0] * 6, "repair": [0] * 6},
        },
        {"selected": [1, 0, 1, 0, 1, 0], "worst_case": 7},
    ],
)
def test_malformed_solutions_are_infeasible_with_a_message(solution: Any) -> None:
    verdict = check(INSTANCE, solution)
    assert not verdict.feasible and verdict.objective is None and verdict.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=7) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({"selected": json_values, "worst_case": json_values}))
def test_check_never_raises(solution: Any) -> None:
    verdict = check(INSTANCE, solution)
    assert isinstance(verdict.feasible, bool)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=6, max_size=6))
def test_every_selection_is_feasible_and_certified(selected: list[int]) -> None:
    verdict = check(INSTANCE, certified_solution(selected))
    assert verdict.feasible and verdict.objective is not None
