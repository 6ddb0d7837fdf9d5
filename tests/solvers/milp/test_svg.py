"""The SVG picture: well-formed, bounded in size, tolerant of missing or malformed results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from solvers.base import NeverCancel, NullProgress
from solvers.milp import KIND
from solvers.milp.generate import generate

assert KIND.render_svg is not None
render = KIND.render_svg


def test_picture_of_a_solved_model_shows_matrix_solution_and_tight_rows() -> None:
    model = KIND.parse(generate(1, "facility_location", customers=12, facilities=5))
    highs = KIND.solvers["highs"].load()
    result = highs.solve(model, highs.Options(), NullProgress(), NeverCancel())
    svg = render(model, {"status": result.status.value, "objective": result.objective, "solution": result.solution})
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    fills = [e.get("fill") for e in root.iter() if e.tag.endswith("rect")]
    assert "#333" in fills and "#1f77b4" in fills and "#d62728" in fills
    assert "status optimal" in svg


@pytest.mark.parametrize("result", [{}, None, {"solution": {"values": {"x": "bad"}}}, {"solution": [1]}])
def test_picture_without_a_usable_solution_still_renders(result: Any) -> None:
    model = KIND.parse(KIND.example)
    root = ET.fromstring(render(model, result))
    assert not any(e.get("fill") == "#1f77b4" for e in root.iter())


def test_large_models_are_binned_to_a_bounded_picture() -> None:
    model = KIND.parse(generate(0, "set_cover", rows=2000, columns=8000, density=0.01))
    svg = render(model, {"status": "feasible", "objective": 1.0, "solution": model.solution_dict([1.0] * 8000)})
    ET.fromstring(svg)
    assert len(svg) < 1_500_000
