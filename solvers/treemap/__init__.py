"""The ``treemap`` kind: nested partitions of a rectangle whose region areas equal the tree's weights.

Importing this module loads no solver code; solvers are imported through ``SolverSpec.target``.
"""

from __future__ import annotations

from solvers.base import Kind, SolverSpec
from solvers.treemap.check import check
from solvers.treemap.options import (
    PolygonalOptions,
    SlackRectanglesOptions,
    SliceDiceOptions,
    SquarifiedOptions,
)
from solvers.treemap.schema import TreemapSolution, instance_schema, parse, summary
from solvers.treemap.svg import render_svg

EXAMPLE = {
    "tree": {
        "name": "root",
        "children": [
            {"name": "a", "weight": 6.0},
            {"name": "b", "children": [{"name": "c", "weight": 2.0}, {"name": "d", "weight": 1.0}]},
            {"name": "e", "weight": 3.0},
        ],
    },
    "width": 1.6,
    "height": 1.0,
}

KIND = Kind(
    name="treemap",
    title="Treemaps",
    description="Nested partitions of a rectangle with areas proportional to weights; the objective is"
    " the maximum aspect ratio over all regions (minimised).",
    sense="minimize",
    parse=parse,
    check=check,
    check_with_options=check,
    summary=summary,
    solvers={
        "squarified": SolverSpec(
            name="squarified",
            exact=False,
            learned=False,
            description="Squarified rectangles (Bruls, Huizing, van Wijk 2000): exact areas, fat in"
            " practice, but a child of weight ε next to 1 − ε is a sliver of aspect about 1/ε.",
            options=SquarifiedOptions,
            target="solvers.treemap.squarified:SquarifiedSolver",
        ),
        "slice_dice": SolverSpec(
            name="slice_dice",
            exact=False,
            learned=False,
            description="Slice-and-dice rectangles (Shneiderman 1992): keeps the input order, direction"
            " alternating with depth; simple and stable, thin regions.",
            options=SliceDiceOptions,
            target="solvers.treemap.slice_dice:SliceDiceSolver",
        ),
        "polygonal": SolverSpec(
            name="polygonal",
            exact=False,
            learned=False,
            description="Convex polygons by recursive exact-area line cuts (after de Berg, Onak and"
            " Sidiropoulos 2013): aspect ratio bounded independently of the weights.",
            options=PolygonalOptions,
            target="solvers.treemap.polygonal:PolygonalSolver",
        ),
        "slack_rectangles": SolverSpec(
            name="slack_rectangles",
            exact=False,
            learned=False,
            description="Rectangles whose areas lie within a factor 1 + slack of their share of the"
            " container (leaving gaps), in exchange for fatter regions on ε / 1 − ε splits.",
            options=SlackRectanglesOptions,
            target="solvers.treemap.slack_rectangles:SlackRectanglesSolver",
        ),
    },
    default_solver="squarified",
    instance_schema=instance_schema(),
    result_schema=TreemapSolution.model_json_schema(),
    example=EXAMPLE,
    render_svg=render_svg,
)
