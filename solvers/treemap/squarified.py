"""Squarified treemaps (Bruls, Huizing and van Wijk, 2000)."""

from __future__ import annotations

from solvers.base import Cancel, Progress, Result
from solvers.runtime import Deadline
from solvers.treemap.layout import finished, rectangle_nodes, stopped
from solvers.treemap.memory import gc_paused
from solvers.treemap.options import SquarifiedOptions
from solvers.treemap.schema import TreemapInstance

#: The clock and the cancel flag are polled after this many laid-out nodes.
POLL_EVERY = 2048


def squarify_children(
    order: list[int],
    weight: list[float],
    box: tuple[float, float, float, float],
    rects: tuple[list[float], list[float], list[float], list[float]],
) -> None:
    """Lay out the nodes ``order`` (heaviest first) in ``box``, writing their rectangles into ``rects``.

    Rows grow along the shorter side of the free rectangle while the row's worst aspect ratio does
    not get worse; a finished row takes a strip whose thickness gives it its exact share of area.
    The last row and the last item of each row end exactly on the free rectangle's edges.
    """
    x0s, y0s, x1s, y1s = rects
    rx0, ry0, rx1, ry1 = box
    k = len(order)
    remaining = [0.0] * (k + 1)  # remaining[i] = total weight of order[i:]
    for i in range(k - 1, -1, -1):
        remaining[i] = remaining[i + 1] + weight[order[i]]
    i = 0
    while i < k:
        free_w, free_h = rx1 - rx0, ry1 - ry0
        short = min(free_w, free_h)
        per_weight = free_w * free_h / remaining[i]
        short2 = short * short
        first_area = weight[order[i]] * per_weight
        row_area = 0.0
        row_weight = 0.0
        worst = float("inf")
        j = i
        while j < k:
            w = weight[order[j]]
            area = w * per_weight
            grown = row_area + area
            grown2 = grown * grown
            new_worst = max(short2 * first_area / grown2, grown2 / (short2 * area))
            if new_worst > worst:
                break
            worst, row_area, row_weight, j = new_worst, grown, row_weight + w, j + 1
        last_row = j == k
        if free_w >= free_h:  # column at the left, items stacked upwards
            cut = rx1 if last_row else rx0 + free_w * (row_weight / remaining[i])
            y = ry0
            done = 0.0
            for m in range(i, j):
                node = order[m]
                done += weight[node]
                top = ry1 if m == j - 1 else ry0 + free_h * (done / row_weight)
                x0s[node], y0s[node], x1s[node], y1s[node] = rx0, y, cut, top
                y = top
            rx0 = cut
        else:  # row at the bottom, items left to right
            cut = ry1 if last_row else ry0 + free_h * (row_weight / remaining[i])
            x = rx0
            done = 0.0
            for m in range(i, j):
                node = order[m]
                done += weight[node]
                right = rx1 if m == j - 1 else rx0 + free_w * (done / row_weight)
                x0s[node], y0s[node], x1s[node], y1s[node] = x, ry0, right, cut
                x = right
            ry0 = cut
        i = j


class SquarifiedSolver:
    """Squarified treemap: rectangles, exact areas, good but unbounded aspect ratios."""

    name = "squarified"
    Options = SquarifiedOptions

    @gc_paused()
    def solve(
        self, instance: TreemapInstance, options: SquarifiedOptions, progress: Progress, cancel: Cancel
    ) -> Result:
        """Lay out every level with the squarified row algorithm."""
        watch = Deadline(options.time_limit_s, cancel)
        n = instance.size
        rects: tuple[list[float], list[float], list[float], list[float]] = (
            [0.0] * n,
            [0.0] * n,
            [instance.width] * n,
            [instance.height] * n,
        )
        weight, child_start = instance.weight, instance.child_start
        by_weight = weight.__getitem__
        next_poll = 0
        for node in range(n):
            lo, hi = child_start[node], child_start[node + 1]
            if hi == lo:
                continue
            if node >= next_poll:
                next_poll = node + POLL_EVERY
                if (reason := watch.stop_reason()) is not None:
                    return stopped(reason, watch)
            order = sorted(range(lo, hi), key=by_weight, reverse=True)
            box = (rects[0][node], rects[1][node], rects[2][node], rects[3][node])
            squarify_children(order, weight, box, rects)
        layout_s = watch.elapsed()
        nodes = rectangle_nodes(instance, rects, watch)
        return finished(nodes, "max_side_ratio", 0.0, watch, progress, {"layout_time_s": layout_s})
