"""The JSON form's validation (every problem listed, caps named) and the independent checker."""

from __future__ import annotations

import math
from typing import Any

import pytest

from solvers.base import InvalidInstance
from solvers.milp import KIND, mps_format
from solvers.milp.schema import MilpModel


def instance(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "format": "json",
        "sense": "minimize",
        "variables": [
            {"name": "x", "type": "integer", "lb": 0, "ub": 10, "obj": 1},
            {"name": "y", "type": "continuous", "lb": -5, "ub": None, "obj": -1},
            {"name": "s", "type": "semicontinuous", "lb": 2, "ub": 6, "obj": 0},
        ],
        "constraints": [
            {"name": "c1", "terms": {"x": 1, "y": 1}, "lb": 1, "ub": 8},
            {"name": "c2", "terms": {"y": 1, "s": -1}, "lb": None, "ub": 0},
        ],
    }
    raw.update(changes)
    return raw


def test_every_field_problem_is_listed_with_its_location() -> None:
    raw = instance()
    raw["variables"].append({"name": "x", "type": "integer"})
    raw["constraints"].append({"name": "c1", "terms": {"ghost": 1.0}, "ub": 2})
    raw["constraints"][0]["lb"] = "one"
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse(raw)
    assert caught.value.errors == [{"loc": ["constraints", 0, "lb"], "msg": "Input should be a valid number"}]
    raw["constraints"][0]["lb"] = 1
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse(raw)
    locs = [e["loc"] for e in caught.value.errors]
    assert ["variables", 3, "name"] in locs
    assert ["constraints", 2, "name"] in locs
    assert ["constraints", 2, "terms", "ghost"] in locs


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"sense": "up"}, ["sense"]),
        ({"variables": []}, ["variables"]),
        ({"colour": "red"}, ["colour"]),
        ({"format": "xml"}, ["format"]),
        ({"objective_offset": math.nan}, ["objective_offset"]),
        ({"objective_offset": 1e25}, ["objective_offset"]),
    ],
)
def test_invalid_top_level_fields(change: dict[str, Any], loc: list[Any]) -> None:
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse(instance(**change))
    assert caught.value.errors[0]["loc"] == loc


def test_huge_coefficients_are_refused_where_they_stand() -> None:
    raw = instance()
    raw["variables"][1]["obj"] = -1e21
    raw["constraints"][1]["terms"]["s"] = 1e20
    with pytest.raises(InvalidInstance) as caught:
        KIND.parse(raw)
    assert [e["loc"] for e in caught.value.errors] == [["constraints", 1, "terms", "s"], ["variables", 1, "obj"]]


def test_semicontinuous_without_upper_bound_is_refused() -> None:
    raw = instance()
    raw["variables"][2]["ub"] = None
    with pytest.raises(InvalidInstance, match="finite positive ub"):
        KIND.parse(raw)


def test_size_caps_are_enforced_with_the_limit_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mps_format, "MAX_VARIABLES", 1)
    text = "NAME\nROWS\n N obj\n L c\nCOLUMNS\n x c 1\n y c 1\nRHS\n rhs c 1\nENDATA\n"
    with pytest.raises(InvalidInstance, match="line 7: more than 1 variables"):
        KIND.parse({"format": "mps", "model": text})
    monkeypatch.setattr(mps_format, "MAX_NONZEROS", 1)
    monkeypatch.setattr(mps_format, "MAX_VARIABLES", 10)
    with pytest.raises(InvalidInstance, match="more than 1 nonzeros"):
        KIND.parse({"format": "mps", "model": text})


def test_summary_and_sense_attribute() -> None:
    model = KIND.parse(instance(sense="maximize"))
    assert model.sense == "maximize"
    assert KIND.summary(model) == {
        "name": "",
        "sense": "maximize",
        "variables": 3,
        "constraints": 2,
        "nonzeros": 4,
        "integer": 1,
        "binary": 0,
        "semicontinuous": 1,
        "continuous": 1,
        "format": "json",
        "notes": [],
    }


@pytest.fixture
def model() -> MilpModel:
    parsed: MilpModel = KIND.parse(instance(objective_offset=2.5))
    return parsed


def test_check_accepts_a_feasible_solution_and_recomputes_the_objective(model: MilpModel) -> None:
    verification = KIND.check(model, {"values": {"x": 3, "y": -1.5, "s": 0}})
    assert verification.feasible and verification.max_violation == 0.0
    assert verification.objective == pytest.approx(3 + 1.5 + 2.5)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"x": 3.5, "y": 1, "s": 0}, "not integral"),
        ({"x": 3 + 2e-5, "y": -1, "s": 0}, "not integral"),
        ({"x": 11, "y": -3, "s": 0}, "outside [0, 10]"),
        ({"x": 0, "y": 0, "s": 0}, "row 'c1'"),
        ({"x": 3, "y": 1, "s": 1}, "variable 's' = 1 outside [2, 6]"),  # semi-continuous gap
        ({"x": 3, "y": 1, "s": 0.5 + 1e-3}, "outside"),
    ],
)
def test_check_reports_each_kind_of_violation(model: MilpModel, values: dict[str, float], problem: str) -> None:
    verification = KIND.check(model, {"values": values})
    assert not verification.feasible and problem in verification.message
    assert verification.max_violation > 0


def test_check_tolerates_values_within_the_stated_tolerance(model: MilpModel) -> None:
    verification = KIND.check(model, {"values": {"x": 3 + 8e-6, "y": -2 - 5e-7, "s": 4e-7}})
    assert verification.feasible, verification.message


@pytest.mark.parametrize(
    ("solution", "problem"),
    [
        (None, "must be an object"),
        ({"values": [1, 2]}, "must be an object"),
        ({"values": {"x": 1, "y": 1}}, "have no value"),
        ({"values": {"x": 1, "y": 1, "s": 0, "q": 1}}, "unknown variable"),
        ({"values": {"x": "1", "y": 1, "s": 0}}, "not a finite number"),
        ({"values": {"x": True, "y": 1, "s": 0}}, "not a finite number"),
        ({"values": {"x": math.inf, "y": 1, "s": 0}}, "not a finite number"),
    ],
)
def test_check_refuses_malformed_solutions_without_raising(model: MilpModel, solution: Any, problem: str) -> None:
    verification = KIND.check(model, solution)
    assert not verification.feasible and problem in verification.message
