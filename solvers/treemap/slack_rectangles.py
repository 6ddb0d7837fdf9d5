"""Rectangles with area slack: areas within a factor 1 + s of their share of the container, in exchange
for fatter rectangles on dominated splits.

Children are placed by recursive cuts across the long side at the exact area split while the split is
balanced (the lighter side has at least a third of the weight). When one child dominates (over two
thirds), an exact cut would leave the rest a sliver, so the dominant child gives up part of its area
and the rest gets a near-square corner of the freed strip; the leftover part of the strip stays empty.
This is the idea behind the constant aspect ratio for rectangles with slack of de Berg, Onak and
Sidiropoulos (2013); the construction here is a simple variant of it.

The promise is against each node's share of the whole container, so losses must not compound beyond
1 + s along any root-to-leaf path. Only the single dominant child of a dominated cut ever shrinks (the
heavy side of a dominated balanced split is one child), so a weights-only pass counts, for every node,
the most shrinks still to come on a path below it; a node whose rectangle holds r times its share then
lets each of those shrinks use the factor (r·(1 + s))^(1/shrinks), which keeps every descendant at or
above 1/(1 + s) of its share. Deep chains of dominated splits therefore get less slack per level.
"""

from __future__ import annotations

import math

from solvers.base import Cancel, Progress, Result
from solvers.runtime import Deadline
from solvers.treemap.layout import finished, rectangle_nodes, stopped
from solvers.treemap.memory import gc_paused
from solvers.treemap.options import SlackRectanglesOptions
from solvers.treemap.polygonal import balanced_split
from solvers.treemap.schema import TreemapInstance

#: The clock and the cancel flag are polled after this many cuts.
POLL_EVERY = 2048
#: Below this weight fraction on the lighter side a split counts as dominated.
BALANCED_FRACTION = 1.0 / 3.0
#: The per-shrink factor is taken this much inside the budget, so that rounding never crosses 1/(1 + s).
BUDGET_MARGIN = 1e-12

Box = tuple[float, float, float, float]


def split_box(box: Box, fraction: float, slack: float, dominated: bool) -> tuple[Box, Box]:
    """Split ``box`` into (heavy, light) where light holds ``fraction`` of the area.

    Balanced: an exact cut across the long side. Dominated: the light part gets a t × (area / t)
    corner of a strip of width t, t as close to a square's side as the heavy part's slack allows
    (the heavy part keeps at least its share of the box / (1 + slack)).
    """
    x0, y0, x1, y1 = box
    wide = x1 - x0 >= y1 - y0
    long_side, short_side = (x1 - x0, y1 - y0) if wide else (y1 - y0, x1 - x0)
    strip = fraction * long_side  # the exact cut
    if dominated:
        most = long_side * (fraction + slack) / (1.0 + slack)
        strip = min(max(math.sqrt(fraction * long_side * short_side), strip), most)
    light_side = min(short_side, fraction * long_side * short_side / strip)
    if wide:
        cut = x1 - strip
        return (x0, y0, cut, y1), (cut, y0, x1, y0 + light_side)
    cut = y1 - strip
    return (x0, y0, x1, cut), (x0, cut, x0 + light_side, y1)


def _cuts(kids: range, weight: list[float]) -> tuple[int, list[tuple[list[int], list[int], float]]]:
    """The binarisation of one node's children: the heaviest child, then (heavy, light, light fraction) per
    cut in the order the cuts are made (a group is named by its first child, the heavy part keeps it)."""
    cuts = []
    order = sorted(kids, key=weight.__getitem__, reverse=True)
    stack = [order]
    while stack:
        group = stack.pop()
        if len(group) == 1:
            continue
        s = balanced_split(group, weight)
        heavy, light = group[:s], group[s:]
        light_weight = math.fsum(weight[i] for i in light)
        cuts.append((heavy, light, light_weight / (light_weight + math.fsum(weight[i] for i in heavy))))
        stack.append(light)
        stack.append(heavy)
    return order[0], cuts


def shrinks_below(instance: TreemapInstance) -> list[int]:
    """Per node, the most dominated-cut shrinks on any path from its children down to a leaf."""
    weight = instance.weight
    below = [0] * instance.size
    for node in range(instance.size - 1, -1, -1):
        kids = instance.children(node)
        if not kids:
            continue
        shrunk = {heavy[0] for heavy, _, fraction in _cuts(kids, weight)[1] if fraction < BALANCED_FRACTION}
        below[node] = max(below[kid] + (kid in shrunk) for kid in kids)
    return below


class SlackRectanglesSolver:
    """Rectangles within an area slack of their share of the container; fatter than exact rectangles."""

    name = "slack_rectangles"
    Options = SlackRectanglesOptions

    @gc_paused()
    def solve(
        self, instance: TreemapInstance, options: SlackRectanglesOptions, progress: Progress, cancel: Cancel
    ) -> Result:
        """Place each node's children by balanced exact cuts and budgeted slack-absorbing corner placements."""
        watch = Deadline(options.time_limit_s, cancel)
        n = instance.size
        x0s, y0s = [0.0] * n, [0.0] * n
        x1s, y1s = [instance.width] * n, [instance.height] * n
        weight = instance.weight
        per_weight = instance.width * instance.height / weight[0]
        below = shrinks_below(instance)
        cuts = 0
        shrunk = 0
        for node in range(n):
            kids = instance.children(node)
            if not kids:
                continue
            box: Box = (x0s[node], y0s[node], x1s[node], y1s[node])
            first, node_cuts = _cuts(kids, weight)
            boxes = {first: box}
            slack = 0.0
            if below[node]:
                held = (box[2] - box[0]) * (box[3] - box[1]) / (weight[node] * per_weight)
                slack = max(0.0, (held * (1.0 + options.slack)) ** (1.0 / below[node]) * (1 - BUDGET_MARGIN) - 1.0)
            for heavy, light, fraction in node_cuts:
                if cuts % POLL_EVERY == 0 and (reason := watch.stop_reason()) is not None:
                    return stopped(reason, watch)
                cuts += 1
                dominated = fraction < BALANCED_FRACTION
                shrunk += dominated
                group_box = boxes.pop(heavy[0])
                boxes[heavy[0]], boxes[light[0]] = split_box(group_box, fraction, slack, dominated)
            for kid, (kx0, ky0, kx1, ky1) in boxes.items():
                x0s[kid], y0s[kid], x1s[kid], y1s[kid] = kx0, ky0, kx1, ky1
        layout_s = watch.elapsed()
        nodes = rectangle_nodes(instance, (x0s, y0s, x1s, y1s), watch)
        stats = {"layout_time_s": layout_s, "cuts": cuts, "dominated_cuts": shrunk}
        return finished(nodes, "max_side_ratio", options.slack, watch, progress, stats)
