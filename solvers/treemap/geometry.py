"""Plane geometry for convex polygons: areas, fatness, clipping and exact-area line cuts.

Polygons are lists of ``(x, y)`` tuples, counter-clockwise, without a repeated closing vertex.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]
Polygon = list[Point]


def signed_area(poly: Sequence[Point]) -> float:
    """Shoelace area, positive for counter-clockwise; taken relative to the first vertex for accuracy."""
    x0, y0 = poly[0]
    total = 0.0
    for i in range(1, len(poly) - 1):
        ax, ay = poly[i][0] - x0, poly[i][1] - y0
        bx, by = poly[i + 1][0] - x0, poly[i + 1][1] - y0
        total += ax * by - ay * bx
    return 0.5 * total


def diameter_squared(poly: Sequence[Point]) -> float:
    """Largest squared distance between two vertices (the squared diameter of a convex polygon)."""
    best = 0.0
    for i in range(len(poly)):
        xi, yi = poly[i]
        for j in range(i + 1, len(poly)):
            dx, dy = poly[j][0] - xi, poly[j][1] - yi
            d = dx * dx + dy * dy
            if d > best:
                best = d
    return best


def fatness(poly: Sequence[Point]) -> float:
    """Aspect ratio of a polygon as diameter² / area (a square scores 2, a thin sliver scores high)."""
    area = signed_area(poly)
    return diameter_squared(poly) / area if area > 0 else math.inf


def without_repeats(poly: Sequence[Point]) -> Polygon:
    """The polygon without vertices equal to their predecessor (a cut through a vertex can repeat it)."""
    return [p for i, p in enumerate(poly) if p != poly[i - 1]] if len(poly) > 1 else list(poly)


def is_convex_ccw(poly: Sequence[Point], tol: float) -> bool:
    """True when the polygon turns left (up to ``tol`` in cross product) everywhere and winds once."""
    poly = without_repeats(poly)
    n = len(poly)
    if n < 3:
        return False
    turning = 0.0
    for i in range(n):
        ax, ay = poly[i]
        bx, by = poly[(i + 1) % n]
        cx, cy = poly[(i + 2) % n]
        ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
        cross = ux * vy - uy * vx
        if cross < -tol:
            return False
        if (ux or uy) and (vx or vy):
            turning += math.atan2(cross, ux * vx + uy * vy)
    return abs(turning - 2 * math.pi) < 1e-6


def is_axis_rectangle(poly: Sequence[Point]) -> bool:
    """True for a four-vertex polygon (repeats aside) whose edges are exactly horizontal or vertical."""
    poly = without_repeats(poly)
    if len(poly) != 4:
        return False
    xs = {p[0] for p in poly}
    ys = {p[1] for p in poly}
    if len(xs) != 2 or len(ys) != 2:
        return False
    return all((poly[i][0] == poly[(i + 1) % 4][0]) != (poly[i][1] == poly[(i + 1) % 4][1]) for i in range(4))


def bbox(poly: Sequence[Point]) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of the vertices."""
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    return min(xs), min(ys), max(xs), max(ys)


def clip_convex(subject: Sequence[Point], clip: Sequence[Point]) -> Polygon:
    """Part of ``subject`` inside the convex counter-clockwise polygon ``clip`` (Sutherland–Hodgman)."""
    out: Polygon = list(subject)
    m = len(clip)
    for i in range(m):
        if not out:
            break
        ax, ay = clip[i]
        bx, by = clip[(i + 1) % m]
        ex, ey = bx - ax, by - ay
        src, out = out, []
        k = len(src)
        for j in range(k):
            p, q = src[j], src[(j + 1) % k]
            sp = ex * (p[1] - ay) - ey * (p[0] - ax)
            sq = ex * (q[1] - ay) - ey * (q[0] - ax)
            if sp >= 0:
                out.append(p)
            if (sp >= 0) != (sq >= 0):
                t = sp / (sp - sq)
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def intersection_area(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Area of the intersection of two convex counter-clockwise polygons."""
    part = clip_convex(a, b)
    return signed_area(part) if len(part) >= 3 else 0.0


def _split_at(poly: Sequence[Point], nx: float, ny: float, c: float) -> tuple[Polygon, Polygon]:
    """Split by the line n·p = c into (n·p <= c, n·p >= c); both pieces share the same cut points."""
    low: Polygon = []
    high: Polygon = []
    m = len(poly)
    heights = [nx * x + ny * y - c for x, y in poly]
    for i in range(m):
        p, hp = poly[i], heights[i]
        q, hq = poly[(i + 1) % m], heights[(i + 1) % m]
        if hp <= 0:
            low.append(p)
        if hp >= 0:
            high.append(p)
        if (hp < 0 < hq) or (hq < 0 < hp):
            t = hp / (hp - hq)
            cut = (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))
            low.append(cut)
            high.append(cut)
    return without_repeats(low), without_repeats(high)


def _area_below(poly: Sequence[Point], heights: Sequence[float], c: float) -> float:
    """Area of the part of ``poly`` where n·p <= c (``heights`` = n·p per vertex), without building it."""
    m = len(poly)
    twice_area = 0.0
    fx = fy = px = py = 0.0
    started = False
    for i in range(m):
        hp, hq = heights[i] - c, heights[(i + 1) % m] - c
        p = poly[i]
        points = []
        if hp <= 0:
            points.append(p)
        if (hp < 0 < hq) or (hq < 0 < hp):
            q = poly[(i + 1) % m]
            t = hp / (hp - hq)
            points.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        for x, y in points:
            if not started:
                fx, fy, started = x, y, True
            else:
                twice_area += (px - fx) * (y - fy) - (py - fy) * (x - fx)
            px, py = x, y
    return 0.5 * twice_area


def cut_by_area(poly: Sequence[Point], angle: float, fraction: float) -> tuple[Polygon, Polygon]:
    """Cut a convex polygon with a line of normal ``angle`` so the low side holds ``fraction`` of the area.

    The area below the line is piecewise quadratic in the line's offset, with breaks at the vertices'
    heights: find the bracketing pair of vertex heights, then solve the quadratic exactly there.
    """
    nx, ny = math.cos(angle), math.sin(angle)
    total = signed_area(poly)
    target = fraction * total
    vertex_heights = [nx * x + ny * y for x, y in poly]
    levels = sorted(set(vertex_heights))
    lo, hi = 0, len(levels) - 1
    while hi - lo > 1:  # invariant: area below levels[lo] <= target <= area below levels[hi]
        mid = (lo + hi) // 2
        if _area_below(poly, vertex_heights, levels[mid]) <= target:
            lo = mid
        else:
            hi = mid
    h0, h1 = levels[lo], levels[hi]
    a0 = _area_below(poly, vertex_heights, h0)
    a1 = _area_below(poly, vertex_heights, h1)
    am = _area_below(poly, vertex_heights, 0.5 * (h0 + h1))
    # A(h0 + t·w) = a0 + b·t + q·t² on t in [0, 1], through the three samples.
    q = 2.0 * (a1 + a0 - 2.0 * am)
    b = a1 - a0 - q
    rhs = target - a0
    if abs(q) <= 1e-15 * max(abs(b), 1e-300):
        t = rhs / b if b > 0 else 0.0
    else:
        disc = max(b * b + 4.0 * q * rhs, 0.0)
        t = 2.0 * rhs / (b + math.sqrt(disc)) if b + math.sqrt(disc) > 0 else 0.0
    t = min(max(t, 0.0), 1.0)
    return _split_at(poly, nx, ny, h0 + t * (h1 - h0))
