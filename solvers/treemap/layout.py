"""How the treemap solvers turn a layout into solution nodes and a Result (solver-side only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from solvers.base import JSON, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.treemap.geometry import Polygon, fatness, signed_area
from solvers.treemap.schema import Measure, TreemapInstance

#: Solution nodes are built in chunks of this size, polling cancel and the clock in between.
BUILD_CHUNK = 50_000
#: Incumbents sent through Progress carry the full solution only up to this many nodes.
MAX_PROGRESS_SOLUTION_NODES = 10_000


def rectangle_nodes(
    instance: TreemapInstance, rects: Sequence[Sequence[float]], watch: Deadline
) -> list[JSON] | Termination:
    """Solution nodes for axis-parallel rectangles rects = (x0s, y0s, x1s, y1s); a Termination if stopped."""
    x0s, y0s, x1s, y1s = rects
    widths = np.subtract(x1s, x0s)
    heights = np.subtract(y1s, y0s)
    areas = (widths * heights).tolist()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.maximum(widths / heights, heights / widths)
    aspects = np.where((widths > 0) & (heights > 0), ratios, np.inf).tolist()
    paths = instance.paths()
    nodes: list[JSON] = []
    for lo in range(0, instance.size, BUILD_CHUNK):
        if (reason := watch.stop_reason()) is not None:
            return reason
        hi = min(lo + BUILD_CHUNK, instance.size)
        nodes += [
            {
                "path": path,
                "depth": depth,
                "weight": weight,
                "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                "area": area,
                "aspect_ratio": aspect,
            }
            for path, depth, weight, x0, y0, x1, y1, area, aspect in zip(
                paths[lo:hi],
                instance.depth[lo:hi],
                instance.weight[lo:hi],
                x0s[lo:hi],
                y0s[lo:hi],
                x1s[lo:hi],
                y1s[lo:hi],
                areas[lo:hi],
                aspects[lo:hi],
                strict=True,
            )
        ]
    return nodes


def polygon_nodes(instance: TreemapInstance, polygons: Sequence[Polygon], watch: Deadline) -> list[JSON] | Termination:
    """Solution nodes for convex polygons, with diameter² / area as aspect ratio; a Termination if stopped."""
    paths = instance.paths()
    nodes: list[JSON] = []
    for lo in range(0, instance.size, BUILD_CHUNK):
        if (reason := watch.stop_reason()) is not None:
            return reason
        nodes += [
            {
                "path": paths[i],
                "depth": instance.depth[i],
                "weight": instance.weight[i],
                "polygon": [[x, y] for x, y in polygons[i]],
                "area": signed_area(polygons[i]),
                "aspect_ratio": fatness(polygons[i]),
            }
            for i in range(lo, min(lo + BUILD_CHUNK, instance.size))
        ]
    return nodes


def finished(
    nodes: list[JSON] | Termination,
    measure: Measure,
    slack: float,
    watch: Deadline,
    progress: Progress,
    stats: JSON,
) -> Result:
    """Wrap a complete layout into a Result and report it as the incumbent (or say why it stopped)."""
    if isinstance(nodes, Termination):
        return stopped(nodes, watch)
    aspects = [node["aspect_ratio"] for node in nodes]
    objective = max(aspects)
    solution: JSON = {"nodes": nodes, "aspect_ratio_measure": measure, "slack": slack}
    progress.incumbent(objective, solution if len(nodes) <= MAX_PROGRESS_SOLUTION_NODES else None)
    return Result(
        status=SolutionStatus.feasible,
        termination=Termination.other,
        objective=objective,
        bound=None,
        solution=solution,
        stats={
            **stats,
            "aspect_ratio_measure": measure,
            "mean_aspect_ratio": math.fsum(aspects) / len(aspects),
            "nodes": len(nodes),
            "solve_time_s": watch.elapsed(),
            "termination_detail": "the layout heuristic ran to completion",
        },
    )


def stopped(reason: Termination, watch: Deadline) -> Result:
    """The Result of a solve stopped by its time limit or a cancel before the layout was complete."""
    return Result(
        status=SolutionStatus.no_solution,
        termination=reason,
        stats={"solve_time_s": watch.elapsed()},
    )
