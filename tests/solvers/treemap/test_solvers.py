"""Every solver: layouts that pass check(), exact areas, the ε-chain behaviour, cancel and time limits."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest

from solvers.base import NullProgress, SolutionStatus, Termination
from solvers.treemap import KIND
from solvers.treemap.generate import directory_tree, epsilon_chain, generate
from solvers.treemap.schema import TreemapInstance, parse

from .conftest import SOLVER_NAMES, solve, verify

INSTANCES = {
    "random_json": generate(seed=3, nodes=400),
    "random_csv_wide": generate(seed=4, nodes=300, fmt="csv", width=3.0, height=0.5),
    "epsilon_chain": epsilon_chain(depth=8, epsilon=1e-4),
    "directory": directory_tree(os.path.dirname(os.path.dirname(__file__)), max_nodes=300),
    "single_children": {"tree": {"name": "r", "children": [{"name": "a", "children": [{"name": "b", "weight": 2}]}]}},
    "example": KIND.example,
}


@pytest.mark.parametrize("solver", SOLVER_NAMES)
@pytest.mark.parametrize("case", list(INSTANCES))
def test_layouts_pass_the_independent_check(solver: str, case: str) -> None:
    instance = parse(INSTANCES[case])
    result = solve(instance, solver)
    assert result.status == SolutionStatus.feasible
    assert result.solution is not None
    text = json.dumps(result.solution, allow_nan=False)  # plain JSON, no numpy types, no NaN
    verdict = verify(instance, json.loads(text), solver)
    assert verdict.feasible, verdict.message
    assert verdict.objective == pytest.approx(result.objective, rel=1e-12)
    assert result.stats["aspect_ratio_measure"] == result.solution["aspect_ratio_measure"]
    assert len(result.solution["nodes"]) == instance.size


def exact_shares(instance: TreemapInstance) -> list[float]:
    """Each node's area as a fraction of the container's, from the weights alone."""
    return [w / instance.weight[0] for w in instance.weight]


def halving_chain(depth: int) -> dict[str, Any]:
    """Each level splits into a leaf and a subtree of equal weight: the deepest leaves hold 2^-depth."""
    node: dict[str, Any] = {"name": "end", "weight": 1.0}
    for level in range(depth):
        node = {"name": f"s{level}", "children": [{"name": "leaf", "weight": 2.0**level}, node]}
    return {"tree": node}


@pytest.mark.parametrize("solver", ["squarified", "slice_dice", "polygonal"])
def test_areas_are_exact_to_1e9_relative_at_depth_30(solver: str) -> None:
    instance = parse(halving_chain(30))
    assert max(instance.depth) == 30
    result = solve(instance, solver)
    assert result.solution is not None
    shares = exact_shares(instance)
    errors = [abs(n["area"] - s) / s for n, s in zip(result.solution["nodes"], shares, strict=True)]
    assert max(errors) <= 1e-9
    assert KIND.check(instance, result.solution).feasible


def max_aspect(solver: str, depth: int, epsilon: float) -> float:
    result = solve(parse(epsilon_chain(depth, epsilon)), solver)
    assert result.objective is not None
    return result.objective


def test_squarified_slivers_grow_like_one_over_epsilon() -> None:
    for epsilon in (1e-2, 1e-4, 1e-6):
        aspect = max_aspect("squarified", 6, epsilon)
        assert 0.5 / epsilon <= aspect <= 2 / epsilon


def test_polygonal_does_not_depend_on_epsilon() -> None:
    aspects = [max_aspect("polygonal", 10, epsilon) for epsilon in (1e-2, 1e-5, 1e-9)]
    assert max(aspects) < 40
    assert max(aspects) / min(aspects) < 3


def test_slack_rectangles_are_fat_on_chains_whose_losses_fit_in_the_slack() -> None:
    # about depth·√ε of the area is needed for square corners: it fits in slack 0.1 for small ε
    assert max(max_aspect("slack_rectangles", 10, epsilon) for epsilon in (1e-5, 1e-9)) < 1.01
    # at ε = 0.01 it does not (the promise is against the container, so losses may not compound)
    assert max_aspect("slack_rectangles", 10, 1e-2) < max_aspect("squarified", 10, 1e-2) / 3


def test_slack_rectangles_keeps_areas_within_the_slack() -> None:
    instance = parse(generate(seed=9, nodes=500, tail=0.8))
    result = solve(instance, "slack_rectangles", slack=0.05)
    assert result.solution is not None and result.solution["slack"] == 0.05
    shares = exact_shares(instance)
    for node, share in zip(result.solution["nodes"], shares, strict=True):
        assert share / 1.05 * (1 - 1e-9) <= node["area"] <= share * 1.05 * (1 + 1e-9)
    assert verify(instance, result.solution, "slack_rectangles", slack=0.05).feasible


def test_slack_rectangles_beats_squarified_on_heavy_tails() -> None:
    instance = parse(generate(seed=11, nodes=2000, tail=0.7))
    slack = solve(instance, "slack_rectangles", slack=0.2).objective
    squarified = solve(instance, "squarified").objective
    assert slack is not None and squarified is not None
    assert slack < squarified


def test_polygons_are_convex_and_counter_clockwise() -> None:
    result = solve(parse(generate(seed=5, nodes=150)), "polygonal")
    assert result.solution is not None
    for node in result.solution["nodes"]:
        poly = node["polygon"]
        for i in range(len(poly)):
            (ax, ay), (bx, by), (cx, cy) = poly[i], poly[(i + 1) % len(poly)], poly[(i + 2) % len(poly)]
            assert (bx - ax) * (cy - by) - (by - ay) * (cx - bx) >= -1e-12


def test_slice_dice_keeps_input_order_and_alternates_direction() -> None:
    raw = {
        "tree": {
            "name": "r",
            "children": [{"name": n, "weight": w} for n, w in [("x", 1), ("y", 3), ("z", 2)]],
        }
    }
    result = solve(parse(raw), "slice_dice")
    assert result.solution is not None
    xs = [n["polygon"][0][0] for n in result.solution["nodes"][1:]]
    assert xs == sorted(xs)
    assert all(n["polygon"][0][1] == 0 and n["polygon"][2][1] == 1 for n in result.solution["nodes"])


def test_results_are_deterministic() -> None:
    instance = parse(generate(seed=2, nodes=200))
    for solver in SOLVER_NAMES:
        assert solve(instance, solver).solution == solve(instance, solver).solution


def test_progress_receives_the_incumbent() -> None:
    instance = parse(generate(seed=1, nodes=50))
    spec = KIND.solvers["squarified"]
    progress = NullProgress()
    result = spec.load().solve(instance, spec.options(), progress, _Flag(False))
    assert progress.incumbents == [result.objective]
    assert progress.best_solution == result.solution


class _Flag:
    """A Cancel that is set from the start, or never."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def is_set(self) -> bool:
        return self.value


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_cancel_stops_without_a_solution(solver: str) -> None:
    instance = parse(generate(seed=1, nodes=3000))
    spec = KIND.solvers[solver]
    result = spec.load().solve(instance, spec.options(), NullProgress(), _Flag(True))
    assert result.termination == Termination.cancelled
    assert result.status == SolutionStatus.no_solution
    assert result.solution is None


class _SetAfter:
    """A Cancel that becomes set on its ``polls``-th poll, i.e. in the middle of a solve."""

    def __init__(self, polls: int) -> None:
        self.left = polls

    def is_set(self) -> bool:
        self.left -= 1
        return self.left <= 0


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_cancel_during_the_solve_stops_it(solver: str) -> None:
    instance = parse(generate(seed=1, nodes=6000, tail=0.9))
    spec = KIND.solvers[solver]
    cancel = _SetAfter(2)
    result = spec.load().solve(instance, spec.options(), NullProgress(), cancel)
    assert result.termination == Termination.cancelled
    assert cancel.left == 0  # stopped at the poll that saw the flag


def test_time_limit_is_honoured() -> None:
    instance = parse(generate(seed=1, nodes=3000))
    result = solve(instance, "polygonal", time_limit_s=1e-9)
    assert result.termination == Termination.time_limit
    assert result.solution is None


def test_polygonal_hurries_instead_of_running_out_of_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import solvers.treemap.polygonal as polygonal

    monkeypatch.setattr(polygonal, "HURRY_AFTER", 0.0)  # as if half the time limit were already gone
    instance = parse(generate(seed=6, nodes=400))
    result = solve(instance, "polygonal")
    assert result.stats["hurried_cuts"] == result.stats["cuts"] > 0
    assert result.solution is not None and KIND.check(instance, result.solution).feasible


def test_polygonal_cut_is_exact_for_tiny_fractions() -> None:
    from solvers.treemap.geometry import cut_by_area, signed_area

    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    for angle in (0.0, 0.3, math.pi / 4, 2.0, 4.0):
        for fraction in (1e-12, 1e-6, 0.3, 0.5, 0.999):
            low, high = cut_by_area(square, angle, fraction)
            assert signed_area(low) == pytest.approx(fraction, rel=1e-9)
            assert signed_area(high) == pytest.approx(1 - fraction, rel=1e-9)
