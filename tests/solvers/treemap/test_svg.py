"""render_svg: a well-formed SVG with one shaded polygon per visible region and labels that fit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from solvers.treemap import KIND
from solvers.treemap.generate import generate
from solvers.treemap.schema import parse

from .conftest import solve

SVG = "{http://www.w3.org/2000/svg}"


def render(raw: dict[str, Any], solver: str) -> tuple[ET.Element, Any]:
    instance = parse(raw)
    result = solve(instance, solver)
    assert KIND.render_svg is not None
    svg = KIND.render_svg(instance, {"solver": solver, "objective": result.objective, "solution": result.solution})
    return ET.fromstring(svg), result


@pytest.mark.parametrize("solver", ["squarified", "polygonal"])
def test_every_region_is_drawn_with_depth_shading(solver: str) -> None:
    root, result = render(generate(seed=3, nodes=120), solver)
    polygons = root.findall(f"{SVG}polygon")
    assert len(polygons) == len(result.solution["nodes"])
    fills = {p.get("fill") for p in polygons}
    assert len(fills) > 10
    titles = {p.find(f"{SVG}title").text.split(" ")[0] for p in polygons}  # type: ignore[union-attr]
    assert titles == {n["path"] for n in result.solution["nodes"]}


def test_labels_are_escaped_and_only_where_they_fit() -> None:
    raw = {
        "tree": {
            "name": "r",
            "children": [
                {"name": "<big & bold>", "weight": 1000.0},
                {"name": "tiny-but-long-name", "weight": 1e-4},
            ],
        }
    }
    root, _ = render(raw, "squarified")
    texts = [t.text for t in root.findall(f"{SVG}text")]
    assert "<big & bold>" in texts
    assert "tiny-but-long-name" not in texts


def test_y_axis_points_up() -> None:
    raw = {"tree": {"name": "r", "children": [{"name": "low", "weight": 1.0}, {"name": "high", "weight": 1.0}]}}
    instance = parse(raw)
    solution = {
        "nodes": [
            {"path": "r", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]},
            {"path": "r/low", "polygon": [[0, 0], [1, 0], [1, 0.5], [0, 0.5]]},
            {"path": "r/high", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]},
        ]
    }
    assert KIND.render_svg is not None
    root = ET.fromstring(KIND.render_svg(instance, {"solution": solution}))
    ys = {}
    for poly in root.findall(f"{SVG}polygon"):
        path = poly.find(f"{SVG}title").text  # type: ignore[union-attr]
        ys[path] = max(float(pt.split(",")[1]) for pt in poly.get("points", "").split())
    assert ys["r/high"] < ys["r/low"]  # higher y in the plane is nearer the top of the picture


@pytest.mark.parametrize(
    "result", [{}, {"solution": None}, {"solution": {"nodes": "x"}}, {"solution": {"nodes": [{}]}}]
)
def test_results_without_a_layout_give_a_note(result: dict[str, Any]) -> None:
    assert KIND.render_svg is not None
    root = ET.fromstring(KIND.render_svg(parse(KIND.example), result))
    assert root.tag == f"{SVG}svg"
