"""The treemap solution's JSON model (shared by the solvers, the check and the API schema; no geometry)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

#: Largest area slack a solution may declare (areas within a factor 1 + slack of their share).
MAX_SLACK = 1.0

Measure = Literal["max_side_ratio", "diameter2_over_area"]


class SolutionNode(BaseModel):
    """One node's region."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Slash path from the root, e.g. 'root/b/c'.")
    depth: int = Field(ge=0)
    weight: float = Field(gt=0)
    polygon: list[tuple[FiniteFloat, FiniteFloat]] = Field(min_length=3, description="Counter-clockwise, y up.")
    area: float = Field(description="Shoelace area of the polygon.")
    aspect_ratio: float = Field(description="In the solution's aspect_ratio_measure.")


class TreemapSolution(BaseModel):
    """Every node's polygon, root included."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[SolutionNode]
    aspect_ratio_measure: Measure = Field(
        "diameter2_over_area",
        description="max_side_ratio = max(w/h, h/w) of axis-parallel rectangles;"
        " diameter2_over_area = diameter² / area otherwise.",
    )
    slack: float = Field(
        0.0,
        ge=0,
        le=MAX_SLACK,
        description="0: children tile their parent exactly. s > 0: children are disjoint and inside their"
        " parent, and every node's area lies in [a/(1+s), a(1+s)] of its share a of the container"
        " (container area × weight / total weight). Informational: the check holds the solution to the"
        " slack the request allowed, and refuses a declared slack above it.",
    )
