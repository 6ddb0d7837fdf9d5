"""Parsing: the JSON tree and the slash-path CSV, every problem reported with its location, size caps."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance
from solvers.treemap import KIND, schema
from solvers.treemap.schema import parse, summary

TREE = {
    "tree": {
        "name": "root",
        "children": [
            {"name": "a", "weight": 3.0},
            {"name": "b", "children": [{"name": "c", "weight": 1.0}, {"name": "d", "weight": 2.0}]},
        ],
    },
    "width": 2.0,
    "height": 1.0,
}


def errors_of(raw: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInstance) as info:
        parse(raw)
    return info.value.errors


def test_json_tree_is_breadth_first_with_summed_weights() -> None:
    inst = parse(TREE)
    assert inst.paths() == ["root", "root/a", "root/b", "root/b/c", "root/b/d"]
    assert inst.weight == [6.0, 3.0, 3.0, 1.0, 2.0]
    assert [list(inst.children(i)) for i in range(inst.size)] == [[1, 2], [], [3, 4], [], []]
    assert summary(inst) == {
        "nodes": 5,
        "leaves": 3,
        "internal_nodes": 2,
        "depth": 2,
        "total_weight": 6.0,
        "width": 2.0,
        "height": 1.0,
    }


def test_csv_with_implied_ancestors_equals_json_tree() -> None:
    inst = parse({"format": "csv", "text": "id,weight\nroot/a,3\nroot/b/c,1\nroot/b/d,2\n", "width": 2.0})
    expected = parse(TREE)
    assert (inst.names, inst.parent, inst.child_start, inst.weight) == (
        expected.names,
        expected.parent,
        expected.child_start,
        expected.weight,
    )
    assert inst.height == 1.0


def test_csv_accepts_quoted_names_and_declared_internal_weights() -> None:
    inst = parse({"format": "csv", "text": 'id,weight\nr/b,3\n"r/x,y",1\nr/b/c,3\n'})
    assert inst.paths() == ["r", "r/b", "r/x,y", "r/b/c"]
    assert inst.weight[0] == 4.0


def test_every_json_problem_is_listed_with_its_location() -> None:
    raw = {
        "tree": {
            "name": "r",
            "children": [
                {"name": "a"},
                {"name": "a", "weight": -1},
                {"name": "x/y", "weight": 1, "colour": "red"},
            ],
        },
        "width": 0,
    }
    errors = errors_of(raw)
    locs = [tuple(e["loc"]) for e in errors]
    assert ("width",) in locs
    assert ("tree", "children", 0, "weight") in locs
    assert ("tree", "children", 1, "weight") in locs
    assert ("tree", "children", 1, "name") in locs  # duplicate sibling
    assert ("tree", "children", 2, "name") in locs  # slash in name
    assert ("tree", "children", 2, "colour") in locs
    assert all(e["msg"] for e in errors)


def test_declared_internal_weight_must_match_children() -> None:
    raw = {
        "tree": {
            "name": "r",
            "weight": 5,
            "children": [{"name": "a", "weight": 1}, {"name": "b", "weight": 2}],
        }
    }
    errors = errors_of(raw)
    assert errors[0]["loc"] == ["tree", "weight"]
    assert "sum" in errors[0]["msg"]


def test_csv_problems_point_at_their_lines() -> None:
    text = "id,weight\nroot/a,3\nroot/a,3\nroot//b,1\nother/b,1\nroot/c,abc\nroot/d,-1\nroot/e\nroot/f,\n"
    errors = errors_of({"format": "csv", "text": text})
    lines = {e["loc"][1] for e in errors if len(e["loc"]) == 2}
    assert lines == {3, 4, 5, 6, 7, 8, 9}
    assert all(e["loc"][0] == "text" for e in errors)


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        ([], []),
        ({"format": "xml"}, ["format"]),
        ({"format": "csv", "text": ""}, ["text"]),
        ({"format": "csv", "text": "name,size\nr/a,1\n"}, ["text", 1]),
        ({"tree": {"name": "r", "children": []}}, ["tree", "children"]),
        ({"tree": {"name": "r", "weight": float("inf")}}, ["tree", "weight"]),
        ({"tree": {"name": "r", "weight": "3"}}, ["tree", "weight"]),
        ({"tree": {"name": "r", "weight": True}}, ["tree", "weight"]),
        ({"tree": {"name": "r", "weight": 1}, "height": "2"}, ["height"]),
    ],
)
def test_malformed_instances_are_rejected(raw: Any, loc: list[Any]) -> None:
    assert loc in [e["loc"] for e in errors_of(raw)]


def test_node_cap_names_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MAX_NODES", 10)
    kids = [{"name": f"n{i}", "weight": 1.0} for i in range(12)]
    assert any("MAX_NODES" in e["msg"] for e in errors_of({"tree": {"name": "r", "children": kids}}))
    text = "id,weight\n" + "".join(f"r/n{i},1\n" for i in range(12))
    assert any("MAX_NODES" in e["msg"] for e in errors_of({"format": "csv", "text": text}))


def test_depth_cap_names_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MAX_DEPTH", 3)
    node: dict[str, Any] = {"name": "leaf", "weight": 1.0}
    for level in range(5):
        node = {"name": f"l{level}", "children": [node]}
    assert any("MAX_DEPTH" in e["msg"] for e in errors_of({"tree": node}))
    assert any("MAX_DEPTH" in e["msg"] for e in errors_of({"format": "csv", "text": "id,weight\na/b/c/d/e,1\n"}))


def test_tiny_relative_weights_are_refused() -> None:
    raw = {"tree": {"name": "r", "children": [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 1e-13}]}}
    errors = errors_of(raw)
    assert errors[0]["loc"] == ["tree", "children", 1, "weight"]
    assert "MIN_RELATIVE_WEIGHT" in errors[0]["msg"]


def test_error_list_is_capped() -> None:
    kids = [{"name": f"n{i}", "weight": -1.0} for i in range(300)]
    errors = errors_of({"tree": {"name": "r", "children": kids}})
    assert len(errors) == schema.MAX_REPORTED_ERRORS + 1
    assert "more problems" in errors[-1]["msg"]


def test_kind_metadata_is_consistent() -> None:
    assert KIND.sense == "minimize"
    assert KIND.default_solver in KIND.solvers
    parse(KIND.example)
    json.dumps(KIND.instance_schema)
    json.dumps(KIND.result_schema)
    for spec in KIND.solvers.values():
        json.dumps(spec.options.model_json_schema())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
node_like = st.recursive(
    st.fixed_dictionaries(
        {"name": st.text(max_size=3)}, optional={"weight": st.floats() | st.integers() | st.text(max_size=2)}
    ),
    lambda inner: st.fixed_dictionaries(
        {"name": st.text(max_size=3)},
        optional={"children": st.lists(inner, max_size=4), "weight": st.floats(), "x": json_values},
    ),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.builds(lambda t: {"tree": t}, node_like))
def test_parse_never_raises_anything_but_invalid_instance(raw: Any) -> None:
    try:
        inst = parse(raw)
    except InvalidInstance as exc:
        assert all(isinstance(e["msg"], str) and isinstance(e["loc"], list) for e in exc.errors)
    else:
        assert inst.size >= 1 and all(w > 0 for w in inst.weight)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.text(alphabet='ab/,\n"0123.e-', max_size=60))
def test_csv_parse_never_raises_anything_but_invalid_instance(text: str) -> None:
    with contextlib.suppress(InvalidInstance):
        parse({"format": "csv", "text": "id,weight\n" + text})
