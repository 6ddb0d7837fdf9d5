"""Issue 18's treemap items: the slack promise against the container, the check's slack from the request,
overflowing weights and tiny containers refused, and every solver's objective equal to the check's."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.base import InvalidInstance, SolutionStatus
from solvers.treemap import KIND
from solvers.treemap.generate import epsilon_chain, generate
from solvers.treemap.schema import TreemapInstance, parse

from .conftest import SOLVER_NAMES, solve, verify


def area_over_share(instance: TreemapInstance, solution: dict[str, Any]) -> list[float]:
    """Each node's area divided by its share of the container (container area × weight / total)."""
    per_weight = instance.width * instance.height / instance.weight[0]
    return [n["area"] / (per_weight * w) for n, w in zip(solution["nodes"], instance.weight, strict=True)]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(epsilon_chain(4, 0.01), id="eps-chain-4-0.01"),
        pytest.param(epsilon_chain(4, 0.2), id="eps-chain-4-0.2"),
        pytest.param(epsilon_chain(12, 1e-4), id="eps-chain-12-1e-4"),
        pytest.param(generate(seed=1, nodes=1000), id="random-1000"),
        pytest.param(generate(seed=2, nodes=1000, tail=0.8), id="random-1000-heavy"),
    ],
)
def test_slack_rectangles_keeps_every_area_within_the_slack_of_its_share_of_the_container(raw: Any) -> None:
    instance = parse(raw)
    result = solve(instance, "slack_rectangles", slack=0.05)
    assert result.solution is not None
    ratios = area_over_share(instance, result.solution)
    assert min(ratios) >= (1 - 1e-9) / 1.05  # was 0.82 on the ε-chain and 0.64 on random-1000
    assert max(ratios) <= 1.05 * (1 + 1e-9)
    verdict = verify(instance, result.solution, "slack_rectangles", slack=0.05)
    assert verdict.feasible, verdict.message


def shrunk_leaf_solution() -> tuple[TreemapInstance, dict[str, Any]]:
    """Two leaves side by side; leaf a shrunk to 60 % of its share, the solution declaring slack 1."""
    instance = parse({"tree": {"name": "r", "children": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}})
    result = solve(instance, "squarified")
    assert result.solution is not None
    solution = copy.deepcopy(result.solution)
    polygon = solution["nodes"][1]["polygon"]
    x0, y0 = polygon[0]
    x1, y1 = polygon[2]
    top = y0 + 0.6 * (y1 - y0)
    solution["nodes"][1]["polygon"] = [[x0, y0], [x1, y0], [x1, top], [x0, top]]
    solution["slack"] = 1.0
    return instance, solution


def test_the_area_tolerance_comes_from_the_request_not_from_the_declared_slack() -> None:
    instance, solution = shrunk_leaf_solution()
    for solver, options in (("squarified", {}), ("slack_rectangles", {"slack": 0.05})):
        verdict = verify(instance, solution, solver, **options)
        assert not verdict.feasible  # passed on the declared slack 1 before
        assert "slack" in verdict.message
    assert not KIND.check(instance, solution).feasible  # without options: slack 0
    solution["slack"] = 0.7
    assert verify(instance, solution, "slack_rectangles", slack=0.7).feasible  # 0.6 ≥ 1/1.7: allowed


def test_a_gap_within_the_requested_slack_is_accepted_and_beyond_it_refused() -> None:
    instance, solution = shrunk_leaf_solution()
    solution["slack"] = 0.0  # declares less than the request: fine, the request's slack applies
    assert KIND.verify(instance, solution, {"slack": 1.0}).feasible
    assert not KIND.verify(instance, solution, {"slack": 0.6}).feasible  # 0.6 < 1/1.6
    assert not KIND.verify(instance, solution, {"slack": "1"}).feasible


def test_overflowing_weight_sums_are_a_validation_error() -> None:
    for raw in (
        {"tree": {"name": "r", "children": [{"name": "a", "weight": 1e308}, {"name": "b", "weight": 1e308}]}},
        {"format": "csv", "text": "id,weight\nr/a,1e308\nr/b,1e308\n"},
    ):
        with pytest.raises(InvalidInstance) as info:  # was OverflowError (a 500)
            parse(raw)
        assert any("overflow" in e["msg"] for e in info.value.errors)


def test_a_container_below_the_smallest_side_is_refused_with_its_field() -> None:
    raw = {"tree": {"name": "r", "children": [{"name": "a", "weight": 1}, {"name": "b", "weight": 2}]}}
    with pytest.raises(InvalidInstance) as info:  # squarified crashed on the 1e-200 square
        parse({**raw, "width": 1e-200, "height": 1e-200})
    assert {tuple(e["loc"]) for e in info.value.errors} == {("width",), ("height",)}
    instance = parse({**raw, "width": 1e-9, "height": 1e-9})
    for solver in SOLVER_NAMES:
        result = solve(instance, solver)
        assert result.solution is not None and verify(instance, result.solution, solver).feasible


def _tree(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    if depth == 0 or draw(st.booleans()):
        return {"name": "x", "weight": draw(st.sampled_from([1e-6, 1e-3, 0.01, 0.5, 1.0, 3.0, 100.0]))}
    kids = [_tree(draw, depth - 1) for _ in range(draw(st.integers(1, 5)))]
    return {"name": "x", "children": [{**kid, "name": f"c{k}"} for k, kid in enumerate(kids)]}


@st.composite
def small_instances(draw: st.DrawFn) -> TreemapInstance:
    root = _tree(draw, 4)
    if "weight" in root:
        root = {"name": "r", "children": [root]}
    width = draw(st.sampled_from([1.0, 3.0, 0.25, 1e-3]))
    return parse({"tree": root, "width": width, "height": 1.0})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances(), st.sampled_from([0.01, 0.05, 0.3]))
def test_every_solver_reports_the_objective_the_check_recomputes(instance: TreemapInstance, slack: float) -> None:
    for solver in SOLVER_NAMES:
        options = {"slack": slack} if solver == "slack_rectangles" else {}
        result = solve(instance, solver, **options)
        assert result.solution is not None and result.objective is not None
        verdict = verify(instance, result.solution, solver, **options)
        assert verdict.feasible, f"{solver}: {verdict.message}"
        assert verdict.objective == pytest.approx(result.objective, rel=1e-12)
        # heuristics only: nobody claims optimality, so no claim can be beaten by another's verified answer
        assert result.status == SolutionStatus.feasible and result.bound is None
