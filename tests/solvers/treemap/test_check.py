"""The checker: accepts exact partitions, rejects every kind of broken one, never raises."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.treemap import KIND
from solvers.treemap.schema import parse

INSTANCE = parse(
    {
        "tree": {
            "name": "r",
            "children": [
                {"name": "a", "weight": 1.0},
                {"name": "b", "children": [{"name": "c", "weight": 1.0}, {"name": "d", "weight": 2.0}]},
            ],
        },
        "width": 2.0,
        "height": 1.0,
    }
)


def rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def node(path: str, depth: int, weight: float, polygon: list[list[float]]) -> dict[str, Any]:
    return {
        "path": path,
        "depth": depth,
        "weight": weight,
        "polygon": polygon,
        "area": 0.0,
        "aspect_ratio": 0.0,
    }


def hand_made() -> dict[str, Any]:
    """r = [0,2]x[0,1]; a = left quarter; b = the rest, split into c (1/3) and d (2/3) vertically."""
    return {
        "nodes": [
            node("r", 0, 4.0, rect(0, 0, 2, 1)),
            node("r/a", 1, 1.0, rect(0, 0, 0.5, 1)),
            node("r/b", 1, 3.0, rect(0.5, 0, 2, 1)),
            node("r/b/c", 2, 1.0, rect(0.5, 0, 2, 1 / 3)),
            node("r/b/d", 2, 2.0, rect(0.5, 1 / 3, 2, 1)),
        ],
        "aspect_ratio_measure": "max_side_ratio",
        "slack": 0.0,
    }


def test_accepts_a_hand_made_tiling_and_recomputes_the_objective() -> None:
    verdict = KIND.check(INSTANCE, hand_made())
    assert verdict.feasible, verdict.message
    assert verdict.objective == pytest.approx(4.5)  # c is 1.5 x 1/3
    assert verdict.max_violation < 1e-12


def test_polygon_measure_is_diameter_squared_over_area() -> None:
    sol = hand_made()
    sol["aspect_ratio_measure"] = "diameter2_over_area"
    verdict = KIND.check(INSTANCE, sol)
    assert verdict.feasible
    assert verdict.objective == pytest.approx((1.5**2 + (1 / 3) ** 2) / 0.5)


def broken(mutate: Any) -> dict[str, Any]:
    sol = copy.deepcopy(hand_made())
    mutate(sol)
    return sol


def _set(path: str, polygon: list[list[float]]) -> Any:
    def mutate(sol: dict[str, Any]) -> None:
        next(n for n in sol["nodes"] if n["path"] == path)["polygon"] = polygon

    return mutate


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda s: s["nodes"].pop(), "no polygon"),
        (lambda s: s["nodes"].append(copy.deepcopy(s["nodes"][1])), "twice"),
        (lambda s: s["nodes"][1].update(path="r/zz"), "not in the instance"),
        (lambda s: s["nodes"][1].update(depth=2), "depth"),
        (lambda s: s["nodes"][1].update(weight=2.0), "weight"),
        (_set("r/a", rect(0, 0, 0.5, 1)[::-1]), "counter-clockwise"),
        (_set("r/b/c", [[0.5, 0], [2, 0], [1.25, 0.1], [2, 1 / 3], [0.5, 1 / 3]]), "not convex"),
        (_set("r", rect(0, 0, 2, 1.5)), "root"),
        (_set("r/a", rect(0, 0, 0.6, 1)), "area"),
        (_set("r/b/c", rect(0.5, 0, 2, 0.4)), "overlap"),
        (_set("r/b/c", rect(0.4, 0, 1.9, 1 / 3)), "inside its parent"),
        (_set("r/b/c", [[0.5, 0], [2, 0], [2, 1 / 3], [0.5, 1 / 3.0000001]]), "axis-parallel"),
    ],
)
def test_rejects_broken_partitions(mutate: Any, needle: str) -> None:
    verdict = KIND.check(INSTANCE, broken(mutate))
    assert not verdict.feasible
    assert needle in verdict.message


def test_gaps_are_allowed_only_within_the_requested_slack() -> None:
    sol = hand_made()
    # c shrinks to 0.95 of its share, leaving a gap between c and d.
    sol["nodes"][3]["polygon"] = rect(0.5, 0, 2, 0.95 / 3)
    assert not KIND.check(INSTANCE, sol).feasible
    sol["slack"] = 0.1
    assert not KIND.check(INSTANCE, sol).feasible  # declared, not requested
    verdict = KIND.verify(INSTANCE, sol, {"slack": 0.1})
    assert verdict.feasible, verdict.message
    assert not KIND.verify(INSTANCE, sol, {"slack": 0.01}).feasible


def test_rotated_convex_tiling_is_accepted() -> None:
    inst = parse({"tree": {"name": "r", "children": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}})
    sol = {
        "nodes": [
            node("r", 0, 2.0, rect(0, 0, 1, 1)),
            node("r/a", 1, 1.0, [[0, 0], [1, 0], [0, 1]]),
            node("r/b", 1, 1.0, [[1, 0], [1, 1], [0, 1]]),
        ]
    }
    verdict = KIND.check(inst, sol)
    assert verdict.feasible, verdict.message
    assert verdict.objective == pytest.approx(4.0)  # right isosceles triangle: 2 / (1/2)
    sol["nodes"][2]["polygon"] = [[1, 0], [1, 1], [0.1, 0.9]]
    assert not KIND.check(inst, sol).feasible


def test_repeated_vertices_are_harmless() -> None:
    sol = hand_made()
    poly = sol["nodes"][3]["polygon"]
    sol["nodes"][3]["polygon"] = [poly[0], poly[1], poly[1], poly[2], poly[3], poly[0]]
    verdict = KIND.check(INSTANCE, sol)
    assert verdict.feasible, verdict.message


@pytest.mark.parametrize(
    "solution",
    [None, [], "x", {}, {"nodes": None}, {"nodes": [1, 2]}, {"nodes": [{"path": "r"}]}, {"nodes": []}],
)
def test_malformed_solutions_are_infeasible(solution: Any) -> None:
    verdict = KIND.check(INSTANCE, solution)
    assert not verdict.feasible
    assert verdict.message


def test_non_finite_coordinates_are_rejected() -> None:
    sol = hand_made()
    sol["nodes"][1]["polygon"][0] = [float("nan"), 0.0]
    assert not KIND.check(INSTANCE, sol).feasible


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=0, max_size=6))
def test_check_never_raises_on_random_polygons(points: list[tuple[float, float]]) -> None:
    sol = hand_made()
    sol["nodes"][3]["polygon"] = [list(p) for p in points]
    verdict = KIND.check(INSTANCE, sol)
    assert isinstance(verdict.feasible, bool)
