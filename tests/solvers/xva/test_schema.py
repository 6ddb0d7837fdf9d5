"""Parsing: field-level errors with locations, size caps, and garbage that never crashes the parser."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance
from solvers.xva import EXAMPLE, KIND
from solvers.xva.schema import MAX_PATH_DATES, MAX_TRADES, parse, summary


def errors_of(raw: Any) -> list[dict[str, Any]]:
    """The field errors parse() reports for ``raw``."""
    with pytest.raises(InvalidInstance) as info:
        parse(raw)
    return info.value.errors


def two_underlyings(correlation: list[list[float]]) -> dict[str, Any]:
    raw = copy.deepcopy(EXAMPLE)
    raw["market"]["underlyings"].append({"name": "S2", "spot": 50, "vol": 0.3, "dividend": 0.0})
    raw["market"]["correlation"] = correlation
    return raw


def test_example_parses_and_summarises() -> None:
    inst = parse(EXAMPLE)
    assert summary(inst) == {
        "underlyings": 1,
        "trades": 1,
        "paths": 20000,
        "steps": 100,
        "horizon_years": 1.0,
        "collateralised": False,
        "initial_margin": False,
    }
    assert list(inst.grid()[:2]) == [0.0, 0.01]
    assert KIND.sense == "minimize" and KIND.default_solver == "monte_carlo"
    assert KIND.render_svg is not None
    deep_bsde = KIND.solvers["deep_bsde"]
    assert deep_bsde.learned and not deep_bsde.exact and deep_bsde.library == "torch"
    json.dumps([KIND.instance_schema, KIND.result_schema, KIND.solvers["monte_carlo"].options.model_json_schema()])


@pytest.mark.parametrize(
    ("correlation", "loc", "fragment"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], ["market", "correlation"], "symmetric"),
        ([[1.0, 0.2], [0.2, 0.9]], ["market", "correlation", 1, 1], "diagonal"),
        ([[1.0]], ["market", "correlation"], "2×2"),
        ([[1.0, 1.5], [1.5, 1.0]], ["market", "correlation"], "[-1, 1]"),
    ],
)
def test_bad_correlation_is_reported_where_it_is(correlation: list[list[float]], loc: list[Any], fragment: str) -> None:
    errors = errors_of(two_underlyings(correlation))
    assert any(e["loc"] == loc and fragment in e["msg"] for e in errors), errors


def test_correlation_that_is_not_positive_semidefinite_is_rejected() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["market"]["underlyings"] = [{"name": f"S{i}", "spot": 100, "vol": 0.2} for i in range(3)]
    raw["trades"][0]["underlying"] = "S0"
    raw["market"]["correlation"] = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]
    errors = errors_of(raw)
    assert any("positive semi-definite" in e["msg"] for e in errors)


def test_every_problem_is_listed_with_its_location() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["trades"].append(
        {"id": "t1", "type": "european_put", "underlying": "XYZ", "strike": 0, "maturity": 1.0, "quantity": 1}
    )
    raw["bank"]["default"]["barrier"] = 150
    raw["market"]["underlyings"].append(copy.deepcopy(raw["market"]["underlyings"][0]))
    raw["market"]["correlation"] = [[1.0, 0.0], [0.0, 1.0]]
    locs = [e["loc"] for e in errors_of(raw)]
    for expected in (
        ["trades", 1, "underlying"],
        ["trades", 1, "id"],
        ["trades", 1, "strike"],
        ["bank", "default", "barrier"],
        ["market", "underlyings", 1, "name"],
    ):
        assert expected in locs


def test_pydantic_errors_name_the_field_and_forbid_extras() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["market"]["underlyings"][0]["vol"] = -0.1
    raw["trades"][0]["maturity"] = 0
    raw["counterparty"]["default"] = {"model": "hazard", "rate": 0.01, "extra": 1}
    raw["simulation"]["colour"] = "red"
    locs = [e["loc"] for e in errors_of(raw)]
    assert ["market", "underlyings", 0, "vol"] in locs
    assert ["trades", 0, "maturity"] in locs
    assert any(loc[:2] == ["counterparty", "default"] and loc[-1] == "extra" for loc in locs)
    assert ["simulation", "colour"] in locs


def test_size_caps_name_the_limit() -> None:
    raw = copy.deepcopy(EXAMPLE)
    raw["simulation"] = {"paths": 1_000_000, "steps": 1_000, "seed": 1}
    assert any("MAX_PATH_DATES" in e["msg"] and str(MAX_PATH_DATES) in e["msg"] for e in errors_of(raw))
    raw = copy.deepcopy(EXAMPLE)
    raw["trades"] = [dict(raw["trades"][0], id=f"t{i}") for i in range(MAX_TRADES + 1)]
    assert any(e["loc"] == ["trades"] and str(MAX_TRADES) in e["msg"] for e in errors_of(raw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node``."""
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            out.extend(_paths(child, (*prefix, i)))
    return out


ALL_PATHS = _paths(EXAMPLE)[1:]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL_PATHS), json_values)
def test_one_corrupted_field_raises_only_invalid_instance_or_parses(path: tuple[Any, ...], value: Any) -> None:
    raw = copy.deepcopy(EXAMPLE)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        parse(raw)
    except InvalidInstance as exc:
        assert exc.errors and all(isinstance(e["msg"], str) and e["msg"] for e in exc.errors)


def test_cross_field_problems_are_listed_with_the_field_errors_of_other_sections() -> None:
    raw = two_underlyings([[1.0, 0.5], [0.4, 1.0]])
    raw["trades"].append(
        {"id": "t1", "type": "forward", "underlying": "S9", "strike": 1.0, "maturity": 1.0, "quantity": 1.0}
    )
    raw["trades"].append({"id": "t3", "type": "swap"})
    del raw["bank"]
    locs = [e["loc"] for e in errors_of(raw)]
    for expected in (
        ["bank"],
        ["market", "correlation"],
        ["trades", 1, "underlying"],
        ["trades", 1, "id"],
        ["trades", 2, "type"],
    ):
        assert expected in locs, locs
