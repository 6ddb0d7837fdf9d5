"""Rectangles with area slack: a bounded aspect ratio in exchange for areas within a factor 1 + s.

Children are placed by recursive cuts across the long side at the exact area split while the split is
balanced (the lighter side has at least a third of the weight). When one child dominates (over two
thirds), an exact cut would leave the rest a sliver, so the dominant child gives up part of its area
(at most a factor 1 + s) and the rest gets a near-square corner of the freed strip; the leftover part
of the strip stays empty. This is the idea behind the constant aspect ratio for rectangles with slack
of de Berg, Onak and Sidiropoulos (2013); the construction here is a simple variant of it.
"""

from __future__ import annotations

import math

from solvers.base import Cancel, Progress, Result
from solvers.treemap.memory import gc_paused
from solvers.treemap.options import SlackRectanglesOptions
from solvers.treemap.polygonal import balanced_split
from solvers.treemap.schema import TreemapInstance
from solvers.treemap.solution import Watch, finished, rectangle_nodes, stopped

#: The clock and the cancel flag are polled after this many cuts.
POLL_EVERY = 2048
#: Below this weight fraction on the lighter side a split counts as dominated.
BALANCED_FRACTION = 1.0 / 3.0

Box = tuple[float, float, float, float]


def split_box(box: Box, fraction: float, slack: float, dominated: bool) -> tuple[Box, Box]:
    """Split ``box`` into (heavy, light) where light holds ``fraction`` of the area.

    Balanced: an exact cut across the long side. Dominated: the light part gets a t × (area / t)
    corner of a strip of width t, t as close to a square's side as the heavy part's slack allows.
    """
    x0, y0, x1, y1 = box
    wide = x1 - x0 >= y1 - y0
    long_side, short_side = (x1 - x0, y1 - y0) if wide else (y1 - y0, x1 - x0)
    strip = fraction * long_side  # the exact cut
    if dominated:
        most = long_side * (fraction + slack) / (1.0 + slack)  # heavy keeps >= its share / (1 + s)
        strip = min(max(math.sqrt(fraction * long_side * short_side), strip), most)
    light_side = min(short_side, fraction * long_side * short_side / strip)
    if wide:
        cut = x1 - strip
        return (x0, y0, cut, y1), (cut, y0, x1, y0 + light_side)
    cut = y1 - strip
    return (x0, y0, x1, cut), (x0, cut, x0 + light_side, y1)


class SlackRectanglesSolver:
    """Rectangles within an area slack, with an aspect ratio that ε / 1 − ε splits cannot blow up."""

    name = "slack_rectangles"
    exact = False
    learned = False
    Options = SlackRectanglesOptions

    @gc_paused()
    def solve(
        self, instance: TreemapInstance, options: SlackRectanglesOptions, progress: Progress, cancel: Cancel
    ) -> Result:
        """Place each node's children by balanced exact cuts and slack-absorbing corner placements."""
        watch = Watch(options.time_limit_s, cancel)
        n = instance.size
        x0s, y0s = [0.0] * n, [0.0] * n
        x1s, y1s = [instance.width] * n, [instance.height] * n
        weight = instance.weight
        cuts = 0
        shrunk = 0
        for node in range(n):
            kids = instance.children(node)
            if not kids:
                continue
            root_box = (x0s[node], y0s[node], x1s[node], y1s[node])
            stack = [(sorted(kids, key=weight.__getitem__, reverse=True), root_box)]
            while stack:
                group, box = stack.pop()
                if len(group) == 1:
                    kid = group[0]
                    x0s[kid], y0s[kid], x1s[kid], y1s[kid] = box
                    continue
                if cuts % POLL_EVERY == 0 and (reason := watch.stop_reason()) is not None:
                    return stopped(reason, watch)
                cuts += 1
                s = balanced_split(group, weight)
                heavy, light = group[:s], group[s:]
                light_weight = math.fsum(weight[i] for i in light)
                fraction = light_weight / (light_weight + math.fsum(weight[i] for i in heavy))
                dominated = fraction < BALANCED_FRACTION
                shrunk += dominated
                heavy_box, light_box = split_box(box, fraction, options.slack, dominated)
                stack.append((light, light_box))
                stack.append((heavy, heavy_box))
        layout_s = watch.elapsed()
        nodes = rectangle_nodes(instance, (x0s, y0s, x1s, y1s), watch)
        stats = {"layout_time_s": layout_s, "cuts": cuts, "dominated_cuts": shrunk}
        return finished(nodes, "max_side_ratio", options.slack, watch, progress, stats)
