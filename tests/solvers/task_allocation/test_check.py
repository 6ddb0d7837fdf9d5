"""The independent checker: feasibility rules and the recomputed profit."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.task_allocation import KIND

PAIRED = copy.deepcopy(KIND.example) | {"pair_costs": [[1, 0], [2, 0], [0, 0.5]]}


def test_profit_is_rewards_of_covered_tasks_minus_agent_and_pair_costs() -> None:
    instance = KIND.parse(PAIRED)
    solution = {
        "assignments": {"bridge": ["welder", "crane"], "fence": ["all-rounder"]},
        "completed": ["bridge", "fence"],
    }
    verdict = KIND.check(instance, solution)
    # bridge 12 − (3 + 1) − (4 + 2); fence 5 − (6 + 0.5)
    assert verdict.feasible and verdict.objective == 12 - 4 - 6 + 5 - 6.5
    assert verdict.max_violation == 0.0


def test_agents_on_an_uncovered_task_still_cost() -> None:
    instance = KIND.parse(KIND.example)
    verdict = KIND.check(instance, {"assignments": {"bridge": ["crane"]}, "completed": []})
    assert verdict.feasible and verdict.objective == -4


def test_empty_solution_earns_nothing() -> None:
    verdict = KIND.check(KIND.parse(KIND.example), {"assignments": {}, "completed": []})
    assert verdict.feasible and verdict.objective == 0


def test_claiming_an_uncovered_task_is_infeasible_with_its_shortfall() -> None:
    instance = KIND.parse(KIND.example)
    verdict = KIND.check(instance, {"assignments": {"bridge": ["welder"]}, "completed": ["bridge"]})
    assert not verdict.feasible
    assert verdict.max_violation == 3.0
    assert "bridge" in verdict.message


def test_covered_but_unlisted_task_counts_and_is_mentioned() -> None:
    instance = KIND.parse(KIND.example)
    verdict = KIND.check(instance, {"assignments": {"fence": ["welder"]}, "completed": []})
    assert verdict.feasible and verdict.objective == 2
    assert "fence" in verdict.message


def test_an_agent_serves_at_most_one_task() -> None:
    instance = KIND.parse(KIND.example)
    solution = {"assignments": {"bridge": ["welder", "crane"], "fence": ["welder"]}, "completed": ["bridge"]}
    verdict = KIND.check(instance, solution)
    assert not verdict.feasible and "welder" in verdict.message
    twice = {"assignments": {"bridge": ["crane", "crane", "welder"]}, "completed": ["bridge"]}
    assert not KIND.check(instance, twice).feasible


def test_unknown_ids_are_infeasible() -> None:
    instance = KIND.parse(KIND.example)
    for solution in (
        {"assignments": {"roof": ["welder"]}, "completed": []},
        {"assignments": {"bridge": ["ghost"]}, "completed": []},
        {"assignments": {}, "completed": ["roof"]},
    ):
        verdict = KIND.check(instance, solution)
        assert not verdict.feasible and verdict.objective is None


def test_tolerance_accepts_rounding_noise_only() -> None:
    raw = copy.deepcopy(KIND.example)
    raw["agents"][0]["capabilities"] = [0.1 + 0.2, 0]
    raw["tasks"][1]["requirements"] = [0.3, 0]
    instance = KIND.parse(raw)
    assert KIND.check(instance, {"assignments": {"fence": ["welder"]}, "completed": ["fence"]}).feasible
    raw["tasks"][1]["requirements"] = [0.3001, 0]
    instance = KIND.parse(raw)
    assert not KIND.check(instance, {"assignments": {"fence": ["welder"]}, "completed": ["fence"]}).feasible


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(["welder", "bridge", "x"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["assignments", "completed", "bridge", "fence", "x"]), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_malformed_solutions_never_raise(solution: Any) -> None:
    verdict = KIND.check(KIND.parse(PAIRED), solution)
    if not verdict.feasible:
        assert verdict.message and verdict.objective is None


def test_svg_draws_every_assignment_and_survives_garbage() -> None:
    import xml.etree.ElementTree as ET

    instance = KIND.parse(KIND.example)
    assert KIND.render_svg is not None
    result = {
        "objective": 5.0,
        "solution": {"assignments": {"bridge": ["welder", "crane"]}, "completed": ["bridge"]},
    }
    root = ET.fromstring(KIND.render_svg(instance, result))
    namespace = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{namespace}line")) == 2
    assert len(root.findall(f"{namespace}circle")) == 3 and len(root.findall(f"{namespace}rect")) == 2
    garbage: list[Any] = [None, {}, {"solution": 3}, {"solution": {"assignments": {"x": [1, None]}, "completed": 7}}]
    for result_like in garbage:
        ET.fromstring(KIND.render_svg(instance, result_like))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), data=st.data())
def test_checker_and_solver_side_profit_agree_with_the_definition(seed: int, data: st.DataObject) -> None:
    import numpy as np

    from solvers.task_allocation.allocation import profit, to_solution
    from solvers.task_allocation.generate import random_instance

    instance = KIND.parse(random_instance(seed, n_agents=7, n_tasks=3, n_capabilities=2, pair_costs=True))
    choice = data.draw(st.lists(st.integers(-1, 2), min_size=7, max_size=7))
    expected = 0.0
    for j in range(3):
        members = [i for i, task in enumerate(choice) if task == j]
        supply = [sum(float(instance.agent_capability[i, k]) for i in members) for k in range(2)]
        if all(supply[k] >= instance.task_requirement[j, k] for k in range(2)):
            expected += float(instance.task_reward[j])
        expected -= sum(float(instance.agent_cost[i]) + float(instance.pair_costs[i, j]) for i in members)
    allocation = np.array(choice, dtype=np.int64)
    verdict = KIND.check(instance, to_solution(instance, allocation))
    assert verdict.feasible
    assert verdict.objective == pytest.approx(expected)
    assert profit(instance, allocation) == pytest.approx(expected)
