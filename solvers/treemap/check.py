"""Independent verification of a treemap solution, from its polygons and the request alone.

The check shares no code with the solvers: its plane geometry (shoelace area, diameter, convexity,
clipping) is written here again (solvers/treemap/geometry.py is solver code), and an import-linter
contract keeps it that way. The area tolerance comes from the request (the solver options' ``slack``),
never from the ``slack`` a solution declares for itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from solvers.base import Verification
from solvers.treemap.memory import gc_paused
from solvers.treemap.schema import MAX_SLACK, SolutionNode, TreemapInstance, TreemapSolution

Point = tuple[float, float]

CHECKED_BY = "solvers.treemap.check"
#: Relative area tolerance per node (on its share of the parent's area, or of the container with slack).
AREA_RTOL = 1e-9
#: Absolute area tolerance, as a fraction of the container's area (rounding of coordinates near 1).
AREA_ATOL = 1e-14
#: Length tolerance for containment, as a fraction of the container's larger side.
LENGTH_TOL = 1e-12
#: max_violation reported when a solution cannot be measured (malformed, degenerate polygons); finite so
#: that the verification stays valid JSON.
UNMEASURABLE = 1.0
#: Problems listed in the verification message.
MAX_LISTED = 5


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_LISTED:
            self.messages.append(message)

    def text(self) -> str:
        extra = f" (and {self.count - MAX_LISTED} more)" if self.count > MAX_LISTED else ""
        return "; ".join(self.messages) + extra


def _fail(message: str) -> Verification:
    return Verification(False, None, UNMEASURABLE, CHECKED_BY, message)


def requested_slack(options: Mapping[str, Any] | None) -> float | str:
    """The area slack the request allows (0 unless the solver options set ``slack``), or why it is unusable."""
    slack = (options or {}).get("slack", 0.0)
    if isinstance(slack, bool) or not isinstance(slack, int | float) or not 0 <= slack <= MAX_SLACK:
        return f"the request's slack {slack!r} is not a number in [0, {MAX_SLACK}]"
    return float(slack)


@gc_paused()
def check(instance: TreemapInstance, solution: Any, options: Mapping[str, Any] | None = None) -> Verification:
    """Verify a solution against the instance and the request's solver ``options`` (their ``slack``, 0 when
    absent); never raises (a bug on an unforeseen input becomes an infeasible verdict)."""
    slack = requested_slack(options)
    if isinstance(slack, str):
        return _fail(slack)
    try:
        return _verify(instance, solution, slack)
    except Exception as exc:  # the service must get a verdict, whatever the solution holds
        return _fail(f"could not check the solution: {type(exc).__name__}: {exc}")


def _verify(instance: TreemapInstance, solution: Any, slack: float) -> Verification:
    """Verify that the polygons form the nested partition of the instance and recompute the objective.

    Checks: every node exactly once; the root is the container; polygons convex and counter-clockwise;
    children inside their parent and pairwise disjoint. Areas: with slack 0 each child's area equals its
    share of the parent's area (the children tile it); with the request's slack s > 0 each node's area
    lies within [a/(1+s), a(1+s)] of its share a of the container (gaps allowed).
    """
    # The envelope is validated with an empty node list, then node by node, so that a 10^6-node
    # solution is never held twice in memory as model objects.
    nodes = solution.get("nodes") if isinstance(solution, dict) else None
    if not isinstance(nodes, list):
        return _fail("malformed solution: it must be an object with a 'nodes' list")
    try:
        header = TreemapSolution.model_validate({**solution, "nodes": []})
    except ValidationError as exc:
        return _fail(_describe(exc))
    paths = instance.paths()
    index = {path: i for i, path in enumerate(paths)}
    polygons: list[list[Point] | None] = [None] * instance.size
    for k, raw_node in enumerate(nodes):
        try:
            node = SolutionNode.model_validate(raw_node)
        except ValidationError as exc:
            return _fail(_describe(exc, ["nodes", k]))
        i = index.get(node.path)
        if i is None:
            return _fail(f"node {node.path!r} is not in the instance")
        if polygons[i] is not None:
            return _fail(f"node {node.path!r} appears twice")
        if node.depth != instance.depth[i]:
            return _fail(f"node {node.path!r} has depth {node.depth}, expected {instance.depth[i]}")
        if abs(node.weight - instance.weight[i]) > 1e-9 * instance.weight[i]:
            return _fail(f"node {node.path!r} has weight {node.weight}, expected {instance.weight[i]}")
        polygons[i] = [(float(x), float(y)) for x, y in node.polygon]
    missing = [paths[i] for i, p in enumerate(polygons) if p is None]
    if missing:
        return _fail(f"{len(missing)} nodes have no polygon, e.g. {missing[0]!r}")
    if header.slack > slack:
        return _fail(f"the solution declares slack {header.slack}, more than the request's {slack}")
    polys: list[list[Point]] = [p for p in polygons if p is not None]
    return _check_geometry(instance, polys, header.aspect_ratio_measure, slack)


def _describe(exc: ValidationError, prefix: list[str | int] | None = None) -> str:
    first = exc.errors(include_url=False)[:MAX_LISTED]
    where = [(prefix or []) + list(e["loc"]) for e in first]
    return "malformed solution: " + "; ".join(
        f"{'/'.join(map(str, loc))}: {e['msg']}" for loc, e in zip(where, first, strict=True)
    )


def _check_geometry(instance: TreemapInstance, polys: list[list[Point]], measure: str, slack: float) -> Verification:
    """The geometric part of :func:`check`, on polygons in instance node order."""
    problems = _Problems()
    width, height = instance.width, instance.height
    container_area = width * height
    atol = AREA_ATOL * container_area
    ltol = LENGTH_TOL * max(width, height)
    cross_tol = ltol * max(width, height)
    paths = instance.paths()
    n = instance.size
    areas = [_shoelace(p) for p in polys]
    is_rect = [_is_axis_rectangle(p) for p in polys]
    boxes = [_bounds(p) for p in polys]
    aspects: list[float] = []
    for i in range(n):
        if not areas[i] > 0:
            problems.add(f"{paths[i]}: polygon is not counter-clockwise or has no area")
            aspects.append(math.inf)
            continue
        if not is_rect[i] and not _is_convex(polys[i], cross_tol):
            problems.add(f"{paths[i]}: polygon is not convex")
        if measure == "max_side_ratio":
            if not is_rect[i]:
                problems.add(f"{paths[i]}: measure max_side_ratio needs an axis-parallel rectangle")
            x0, y0, x1, y1 = boxes[i]
            aspects.append(max((x1 - x0) / (y1 - y0), (y1 - y0) / (x1 - x0)))
        else:
            aspects.append(_diameter_squared(polys[i]) / areas[i])
    if problems.count:
        return Verification(False, None, UNMEASURABLE, CHECKED_BY, problems.text())

    max_violation = 0.0
    x0, y0, x1, y1 = boxes[0]
    if min(x0, y0) < -ltol or x1 > width + ltol or y1 > height + ltol:
        problems.add("the root polygon leaves the container [0, width] x [0, height]")
    root_error = abs(areas[0] - container_area)
    max_violation = root_error / container_area
    if root_error > AREA_RTOL * container_area + atol:
        problems.add(f"the root's area {areas[0]!r} differs from the container's {container_area!r}")

    per_weight = container_area / instance.weight[0]
    for parent in range(n):
        kids = instance.children(parent)
        if not kids:
            continue
        for kid in kids:
            if slack > 0:
                share = per_weight * instance.weight[kid]
                deviation = max(0.0, share / (1 + slack) - areas[kid], areas[kid] - share * (1 + slack))
            else:
                share = areas[parent] * (instance.weight[kid] / instance.weight[parent])
                deviation = abs(areas[kid] - share)
            max_violation = max(max_violation, deviation / share)
            tol = AREA_RTOL * share + atol
            if deviation > tol:
                problems.add(f"{paths[kid]}: area {areas[kid]!r} vs its share {share!r} (slack {slack})")
            if is_rect[parent] and is_rect[kid]:
                px0, py0, px1, py1 = boxes[parent]
                kx0, ky0, kx1, ky1 = boxes[kid]
                outside = kx0 < px0 - ltol or ky0 < py0 - ltol or kx1 > px1 + ltol or ky1 > py1 + ltol
            else:
                outside_area = areas[kid] - _intersection_area(polys[kid], polys[parent])
                max_violation = max(max_violation, outside_area / areas[kid])
                outside = outside_area > tol
            if outside:
                problems.add(f"{paths[kid]}: not inside its parent")
        for a, b, overlap in _overlaps(kids, polys, boxes, is_rect, ltol):
            max_violation = max(max_violation, overlap / min(areas[a], areas[b]))
            if overlap > AREA_RTOL * min(areas[a], areas[b]) + atol:
                problems.add(f"{paths[a]} and {paths[b]} overlap by area {overlap!r}")
    objective = max(aspects)
    if problems.count:
        return Verification(False, objective, max_violation, CHECKED_BY, problems.text())
    what = "exact tiling" if slack == 0 else f"disjoint regions within slack {slack}"
    return Verification(True, objective, max_violation, CHECKED_BY, f"{n} nodes verified: {what}")


def _overlaps(
    kids: range,
    polys: list[list[Point]],
    boxes: list[tuple[float, float, float, float]],
    is_rect: list[bool],
    ltol: float,
) -> list[tuple[int, int, float]]:
    """Pairs of siblings whose interiors overlap, with the overlap area (sweep over bounding boxes)."""
    found: list[tuple[int, int, float]] = []
    active: list[int] = []
    for kid in sorted(kids, key=lambda k: boxes[k][0]):
        kx0, ky0, kx1, ky1 = boxes[kid]
        active = [a for a in active if boxes[a][2] > kx0 + ltol]
        for other in active:
            ox0, oy0, ox1, oy1 = boxes[other]
            if oy1 <= ky0 + ltol or ky1 <= oy0 + ltol:
                continue
            if is_rect[kid] and is_rect[other]:
                overlap = (min(kx1, ox1) - max(kx0, ox0)) * (min(ky1, oy1) - max(ky0, oy0))
            else:
                overlap = _intersection_area(polys[kid], polys[other])
            if overlap > 0:
                found.append((other, kid, overlap))
        active.append(kid)
    return found


# The check's own plane geometry (polygons as vertex lists, counter-clockwise, no closing vertex).


def _distinct(poly: Sequence[Point]) -> list[Point]:
    """The vertices without consecutive repeats (the closing pair included)."""
    out = [p for k, p in enumerate(poly) if k == 0 or p != poly[k - 1]]
    while len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out


def _shoelace(poly: Sequence[Point]) -> float:
    """Signed area (positive counter-clockwise), summed exactly with vertices taken relative to the first."""
    if len(poly) < 3:
        return 0.0
    ox, oy = poly[0]
    rel = [(x - ox, y - oy) for x, y in poly]
    return 0.5 * math.fsum(rel[k][0] * rel[k + 1][1] - rel[k + 1][0] * rel[k][1] for k in range(len(rel) - 1))


def _diameter_squared(poly: Sequence[Point]) -> float:
    """The largest squared distance between two vertices."""
    return max(
        ((px - qx) ** 2 + (py - qy) ** 2 for k, (px, py) in enumerate(poly) for qx, qy in poly[k + 1 :]),
        default=0.0,
    )


def _is_convex(poly: Sequence[Point], tol: float) -> bool:
    """No right turn beyond ``tol`` (cross product) and the directions of the edges sweep once around."""
    pts = _distinct(poly)
    m = len(pts)
    if m < 3:
        return False
    edges = [(pts[(k + 1) % m][0] - pts[k][0], pts[(k + 1) % m][1] - pts[k][1]) for k in range(m)]
    swept = 0.0
    for k in range(m):
        (ax, ay), (bx, by) = edges[k], edges[(k + 1) % m]
        cross = ax * by - ay * bx
        if cross < -tol:
            return False
        swept += math.atan2(cross, ax * bx + ay * by)
    return math.isclose(swept, 2 * math.pi, abs_tol=1e-6)


def _is_axis_rectangle(poly: Sequence[Point]) -> bool:
    """Four distinct corners on two x values and two y values, each edge horizontal or vertical."""
    pts = _distinct(poly)
    if len(pts) != 4 or len({x for x, _ in pts}) != 2 or len({y for _, y in pts}) != 2:
        return False
    return all((p[0] == q[0]) ^ (p[1] == q[1]) for p, q in zip(pts, pts[1:] + pts[:1], strict=True))


def _bounds(poly: Sequence[Point]) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y)."""
    return min(x for x, _ in poly), min(y for _, y in poly), max(x for x, _ in poly), max(y for _, y in poly)


def _intersection_area(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Area of a ∩ b for convex counter-clockwise polygons: a clipped by each edge's half-plane of b."""
    piece = list(a)
    for k in range(len(b)):
        if len(piece) < 3:
            return 0.0
        (sx, sy), (ex, ey) = b[k], b[(k + 1) % len(b)]

        def side(p: Point, sx: float = sx, sy: float = sy, ex: float = ex, ey: float = ey) -> float:
            return (ex - sx) * (p[1] - sy) - (ey - sy) * (p[0] - sx)

        kept: list[Point] = []
        for j, p in enumerate(piece):
            q = piece[(j + 1) % len(piece)]
            sp, sq = side(p), side(q)
            if sp >= 0:
                kept.append(p)
            if (sp < 0 <= sq) or (sq < 0 <= sp):
                t = sp / (sp - sq)
                kept.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        piece = kept
    return _shoelace(piece) if len(piece) >= 3 else 0.0
