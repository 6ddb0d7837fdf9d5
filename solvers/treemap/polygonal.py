"""Convex polygonal treemaps by recursive exact-area line cuts.

After de Berg, Onak and Sidiropoulos, "Fat Polygonal Partitions with Applications to Visualization
and Embeddings" (JoCG 2013): binarise each child list by weight, then cut the current convex region
with a straight line at the position that gives the exact area split. Line cuts keep every piece
convex; among a few candidate directions (evenly spread, plus the inward bisector of every corner,
which cuts a small piece off as an isosceles triangle) the cut whose two pieces are fattest, by
diameter² / area, is kept.
"""

from __future__ import annotations

import math

from solvers.base import Cancel, Progress, Result
from solvers.runtime import Deadline
from solvers.treemap.geometry import Polygon, cut_by_area, fatness
from solvers.treemap.layout import finished, polygon_nodes, stopped
from solvers.treemap.memory import gc_paused
from solvers.treemap.options import PolygonalOptions
from solvers.treemap.schema import TreemapInstance

#: The clock and the cancel flag are polled after this many cuts.
POLL_EVERY = 256
#: Past this fraction of the time limit, cuts try only HURRY_DIRECTIONS evenly spread directions (and
#: the corner bisectors for small shares), so that large trees still finish.
HURRY_AFTER = 0.5
HURRY_DIRECTIONS = 2
#: Corner cuts (along the bisectors) are tried when the lighter side holds less than this share.
CORNER_FRACTION = 0.25


def balanced_split(group: list[int], weight: list[float]) -> int:
    """Index s so that group[:s] and group[s:] (heaviest first) have weights as equal as possible."""
    total = math.fsum(weight[i] for i in group)
    best_s, best_gap = 1, math.inf
    done = 0.0
    for s in range(1, len(group)):
        done += weight[group[s - 1]]
        gap = abs(2.0 * done - total)
        if gap < best_gap:
            best_s, best_gap = s, gap
    return best_s


def corner_bisectors(poly: Polygon) -> list[float]:
    """Angles of the inward bisector at every vertex (a cut normal that isolates that corner)."""
    angles = []
    m = len(poly)
    for i in range(m):
        vx, vy = poly[i]
        ux, uy = poly[i - 1][0] - vx, poly[i - 1][1] - vy
        wx, wy = poly[(i + 1) % m][0] - vx, poly[(i + 1) % m][1] - vy
        lu, lw = math.hypot(ux, uy), math.hypot(wx, wy)
        if lu > 0 and lw > 0:
            angles.append(math.atan2(uy / lu + wy / lw, ux / lu + wx / lw))
    return angles


def best_cut(poly: Polygon, fraction: float, directions: int) -> tuple[Polygon, Polygon]:
    """The exact-area cut (low side holds ``fraction``) with the fattest worse piece among the candidates."""
    candidates = [math.pi * k / directions for k in range(2 * directions)]
    if fraction < CORNER_FRACTION:
        candidates += corner_bisectors(poly)
    best: tuple[Polygon, Polygon] | None = None
    best_score = math.inf
    for angle in candidates:
        low, high = cut_by_area(poly, angle, fraction)
        if len(low) < 3 or len(high) < 3:
            continue
        score = max(fatness(low), fatness(high))
        if score < best_score:
            best, best_score = (low, high), score
    if best is None:  # every candidate degenerate (a region below the coordinate resolution)
        return cut_by_area(poly, 0.0, fraction)
    return best


class PolygonalSolver:
    """Fat convex polygons: aspect ratio (diameter² / area) bounded independently of the weights."""

    name = "polygonal"
    Options = PolygonalOptions

    @gc_paused()
    def solve(self, instance: TreemapInstance, options: PolygonalOptions, progress: Progress, cancel: Cancel) -> Result:
        """Cut each node's polygon among its children by recursive balanced exact-area cuts."""
        watch = Deadline(options.time_limit_s, cancel)
        w, h = instance.width, instance.height
        polys: list[Polygon] = [[(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]] * instance.size
        weight = instance.weight
        directions = options.directions
        cuts = hurried = 0
        for node in range(instance.size):
            kids = instance.children(node)
            if not kids:
                continue
            stack = [(sorted(kids, key=weight.__getitem__, reverse=True), polys[node])]
            while stack:
                group, region = stack.pop()
                if len(group) == 1:
                    polys[group[0]] = region
                    continue
                if cuts % POLL_EVERY == 0:
                    if (reason := watch.stop_reason()) is not None:
                        return stopped(reason, watch)
                    if watch.elapsed() > HURRY_AFTER * options.time_limit_s:
                        directions = min(directions, HURRY_DIRECTIONS)
                cuts += 1
                hurried += directions < options.directions
                s = balanced_split(group, weight)
                heavy, light = group[:s], group[s:]
                light_weight = math.fsum(weight[i] for i in light)
                fraction = light_weight / (light_weight + math.fsum(weight[i] for i in heavy))
                low, high = best_cut(region, fraction, directions)
                stack.append((light, low))
                stack.append((heavy, high))
        layout_s = watch.elapsed()
        nodes = polygon_nodes(instance, polys, watch)
        return finished(
            nodes,
            "diameter2_over_area",
            0.0,
            watch,
            progress,
            {"layout_time_s": layout_s, "cuts": cuts, "hurried_cuts": hurried},
        )
