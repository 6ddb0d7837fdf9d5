"""Parsing and validation of task_allocation instances, and the kind's contract."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance
from solvers.task_allocation import KIND
from solvers.task_allocation.generate import FAMILIES, generate
from solvers.task_allocation.schema import MAX_AGENT_TASK_PAIRS, MAX_AGENTS, to_raw


def errors_of(raw: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse(raw)
    return caught.value.errors


def test_example_is_valid_and_summarised() -> None:
    instance = KIND.parse(KIND.example)
    assert KIND.summary(instance) == {
        "agents": 3,
        "tasks": 2,
        "capabilities": 2,
        "pair_costs": False,
        "total_reward": 17.0,
    }


def test_round_trip_through_raw_form() -> None:
    raw = generate(3, 12, 4, family="stations")
    again = to_raw(KIND.parse(raw))
    assert json.loads(json.dumps(again)) == raw


def test_every_problem_is_listed_with_its_location() -> None:
    raw = copy.deepcopy(KIND.example)
    raw["agents"][1]["id"] = "welder"
    raw["agents"][2]["capabilities"] = [1]
    raw["tasks"][0]["requirements"] = [2, -1]
    raw["capabilities"].append("weld")
    locs = {tuple(error["loc"]) for error in errors_of(raw)}
    assert ("agents", 1, "id") in locs
    assert ("agents", 2, "capabilities") in locs
    assert ("tasks", 0, "requirements", 1) in locs
    assert ("capabilities", 2) in locs
    # the extra capability also makes every other vector too short
    assert ("agents", 0, "capabilities") in locs


def test_structural_errors_come_from_the_schema() -> None:
    raw = copy.deepcopy(KIND.example)
    raw["agents"][0]["cost"] = -1
    raw["tasks"][1]["reward"] = "lots"
    raw["tasks"][1]["colour"] = "red"
    del raw["agents"][1]["capabilities"]
    locs = {tuple(error["loc"]) for error in errors_of(raw)}
    assert {
        ("agents", 0, "cost"),
        ("tasks", 1, "reward"),
        ("tasks", 1, "colour"),
        ("agents", 1, "capabilities"),
    } <= locs


def test_pair_costs_shape_and_sign_are_checked() -> None:
    raw = copy.deepcopy(KIND.example)
    raw["pair_costs"] = [[0, 1], [1, 1]]
    assert errors_of(raw)[0]["loc"] == ["pair_costs"]
    raw["pair_costs"] = [[0, 1], [1], [2, -3]]
    locs = {tuple(error["loc"]) for error in errors_of(raw)}
    assert locs == {("pair_costs", 1), ("pair_costs", 2, 1)}


def test_non_finite_numbers_are_rejected() -> None:
    raw = copy.deepcopy(KIND.example)
    raw["agents"][0]["capabilities"][0] = float("nan")
    raw["tasks"][0]["reward"] = float("inf")
    locs = {tuple(error["loc"]) for error in errors_of(raw)}
    assert {("agents", 0, "capabilities", 0), ("tasks", 0, "reward")} <= locs


def test_size_caps_name_the_limit() -> None:
    agent = {"id": "a", "cost": 1, "capabilities": [1]}
    raw = {
        "capabilities": ["x"],
        "agents": [dict(agent, id=f"a{i}") for i in range(MAX_AGENTS + 1)],
        "tasks": [],
    }
    message = errors_of(raw)[0]["msg"]
    assert str(MAX_AGENTS) in message
    n_agents, n_tasks = 4_000, MAX_AGENT_TASK_PAIRS // 4_000 + 1
    raw = {
        "capabilities": ["x"],
        "agents": [dict(agent, id=f"a{i}") for i in range(n_agents)],
        "tasks": [{"id": f"t{j}", "reward": 1, "requirements": [1]} for j in range(n_tasks)],
    }
    assert "MAX_AGENT_TASK_PAIRS" in errors_of(raw)[0]["msg"]


@pytest.mark.parametrize("family", FAMILIES)
def test_generators_are_valid_and_reproducible(family: str) -> None:
    raw = generate(5, 15, 5, family=family)  # type: ignore[arg-type]
    KIND.parse(raw)
    assert generate(5, 15, 5, family=family) == raw  # type: ignore[arg-type]
    assert generate(6, 15, 5, family=family) != raw  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    path=st.lists(st.sampled_from(["agents", "tasks", 0, 1, "capabilities", "requirements", "id", "cost"]), max_size=4),
    value=json_values,
)
def test_damaged_instances_raise_only_invalid_instance(path: list[Any], value: Any) -> None:
    raw: Any = copy.deepcopy(KIND.example)
    raw["pair_costs"] = [[0, 1], [1, 0], [2, 2]]
    target = raw
    for step in path[:-1]:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            break
    try:
        if path:
            target[path[-1]] = value
        else:
            raw = value
    except (IndexError, TypeError):
        return
    try:
        KIND.parse(raw)
    except InvalidInstance as exc:
        assert exc.errors


def test_kind_declares_its_solvers() -> None:
    assert KIND.sense == "maximize"
    assert list(KIND.solvers) == ["exact", "greedy", "genetic", "learned"]
    assert KIND.solvers[KIND.default_solver].exact
    for spec in KIND.solvers.values():
        solver = spec.load()
        assert solver.name == spec.name and solver.Options is spec.options
        assert spec.options.model_json_schema()["additionalProperties"] is False
    assert "agents" in KIND.instance_schema["properties"]
    assert set(KIND.result_schema["properties"]) == {"assignments", "completed"}
