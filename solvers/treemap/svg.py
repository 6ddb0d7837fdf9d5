"""SVG drawing of a treemap result: depth-shaded fills, one hue per top-level branch, labels that fit."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from solvers.base import JSON
from solvers.treemap.schema import TreemapInstance

#: Width of the drawing area in pixels; the height follows the container's proportions.
CANVAS_WIDTH = 960
#: Height of the caption band above the drawing.
CAPTION_HEIGHT = 28
#: Most regions drawn; the smallest are left out beyond it.
MAX_DRAWN = 20_000
#: Regions smaller than this many square pixels are not drawn.
MIN_DRAWN_AREA_PX = 1.0
#: Smallest label font size in pixels; smaller labels are left out.
MIN_FONT_PX = 7.0
#: Largest label font size in pixels.
MAX_FONT_PX = 16.0
#: Hue step between top-level branches (the golden angle spreads any number of hues evenly).
GOLDEN_ANGLE = 137.50776


def _polygon(raw: Any) -> list[tuple[float, float]] | None:
    """The node's polygon as float pairs, or None when it is malformed."""
    if not isinstance(raw, list) or len(raw) < 3:
        return None
    points = []
    for point in raw:
        if not (isinstance(point, list | tuple) and len(point) == 2):
            return None
        x, y = point
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            return None
        points.append((float(x), float(y)))
    return points


def _fill(hue: float, depth: int) -> tuple[str, bool]:
    """HSL fill for a region at ``depth`` of a branch, and whether labels on it should be dark."""
    if depth == 0:
        return "hsl(220, 12%, 88%)", True
    lightness = min(34 + 10 * (depth - 1), 86)
    return f"hsl({hue:.1f}, 58%, {lightness}%)", lightness >= 58


def _message_svg(text: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="80" viewBox="0 0 480 80">'
        '<rect width="480" height="80" fill="#f4f4f4"/>'
        '<text x="240" y="45" text-anchor="middle" font-family="sans-serif" font-size="14">'
        f"{escape(text)}</text>"
        "</svg>"
    )


def render_svg(instance: TreemapInstance, result: JSON) -> str:
    """Draw the result's partition as a standalone SVG document (a note instead when it has no solution)."""
    solution = result.get("solution") if isinstance(result, dict) else None
    nodes = solution.get("nodes") if isinstance(solution, dict) else None
    if not isinstance(nodes, list) or not nodes:
        return _message_svg("This result has no layout to draw.")
    width, height = instance.width, instance.height
    scale = CANVAS_WIDTH / width
    canvas_height = max(1, round(height * scale))
    top_level = {instance.names[kid]: k for k, kid in enumerate(instance.children(0))}

    regions = []
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("path"), str):
            continue
        poly = _polygon(node.get("polygon"))
        if poly is None:
            continue
        pixels = [(x * scale, CAPTION_HEIGHT + (height - y) * scale) for x, y in poly]
        area_px = abs(
            sum(pixels[i][0] * pixels[i - 1][1] - pixels[i - 1][0] * pixels[i][1] for i in range(len(pixels))) / 2
        )
        if area_px < MIN_DRAWN_AREA_PX and node["path"].count("/") > 0:
            continue
        regions.append((node["path"], pixels, area_px, node.get("weight")))
    regions.sort(key=lambda r: -r[2])
    regions = regions[:MAX_DRAWN]
    regions.sort(key=lambda r: r[0].count("/"))  # parents below their children

    total_height = canvas_height + CAPTION_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CANVAS_WIDTH}" height="{total_height}"'
        f' viewBox="0 0 {CANVAS_WIDTH} {total_height}" font-family="sans-serif">',
        f'<rect width="{CANVAS_WIDTH}" height="{total_height}" fill="#fafafa"/>',
        _caption(result, len(nodes)),
    ]
    parents = {path.rpartition("/")[0] for path, *_ in regions}
    labels = []
    for path, pixels, area_px, weight in regions:
        names = path.split("/")
        depth = len(names) - 1
        hue = (top_level.get(names[1], 0) * GOLDEN_ANGLE) % 360 if depth else 0.0
        fill, dark_text = _fill(hue, depth)
        stroke = max(0.4, 2.4 - 0.5 * depth)
        points = " ".join(f"{x:.2f},{y:.2f}" for x, y in pixels)
        tooltip = f"{path} (weight {weight})" if weight is not None else path
        parts.append(
            f'<polygon points="{points}" fill="{fill}" stroke="#ffffff" stroke-width="{stroke:.1f}">'
            f"<title>{escape(tooltip)}</title></polygon>"
        )
        if path in parents:  # internal: a small tag in its top-left corner for the top levels
            label = _corner_label(names[-1], pixels) if depth == 1 else None
        else:
            label = _label(names[-1], pixels, area_px, dark_text)
        if label:
            labels.append(label)
    parts.extend(labels)
    parts.append("</svg>")
    return "\n".join(parts)


def _caption(result: JSON, count: int) -> str:
    solver = result.get("solver")
    objective = result.get("objective")
    bits = [str(solver) if solver else "treemap", f"{count} regions"]
    if isinstance(objective, int | float) and math.isfinite(objective):
        bits.append(f"max aspect ratio {objective:.3g}")
    text = " · ".join(bits)
    return f'<text x="8" y="19" font-size="14" fill="#333">{escape(text)}</text>'


def _corner_label(name: str, pixels: list[tuple[float, float]]) -> str | None:
    """A branch name in the top-left corner of its region, haloed so it reads over the children."""
    xs = [p[0] for p in pixels]
    ys = [p[1] for p in pixels]
    fit_w, fit_h = max(xs) - min(xs), max(ys) - min(ys)
    font = min(12.0, 0.3 * fit_h, 0.9 * fit_w / (0.6 * max(len(name), 1)))
    if font < MIN_FONT_PX:
        return None
    return (
        f'<text x="{min(xs) + 3:.1f}" y="{min(ys) + font + 2:.1f}" font-size="{font:.1f}" font-weight="bold"'
        ' fill="#111" stroke="#ffffff" stroke-width="3" paint-order="stroke" pointer-events="none">'
        f"{escape(name)}</text>"
    )


def _label(name: str, pixels: list[tuple[float, float]], area_px: float, dark_text: bool) -> str | None:
    """A centred label when the name fits inside the region, else None."""
    xs = [p[0] for p in pixels]
    ys = [p[1] for p in pixels]
    if len(pixels) == 4 and len(set(xs)) == 2 and len(set(ys)) == 2:
        fit_w, fit_h = max(xs) - min(xs), max(ys) - min(ys)
    else:  # a fat convex polygon holds a square of about this side around its centroid
        fit_w = fit_h = 0.7 * math.sqrt(area_px)
    font = min(MAX_FONT_PX, 0.6 * fit_h, 0.9 * fit_w / (0.6 * max(len(name), 1)))
    if font < MIN_FONT_PX:
        return None
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    colour = "#1d1d1d" if dark_text else "#ffffff"
    return (
        f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="{font:.1f}" fill="{colour}" text-anchor="middle"'
        f' dominant-baseline="central" pointer-events="none">{escape(name)}</text>'
    )
