"""Slice-and-dice treemaps (Shneiderman, 1992): alternate vertical and horizontal slicing by depth."""

from __future__ import annotations

from solvers.base import Cancel, Progress, Result
from solvers.runtime import Deadline
from solvers.treemap.layout import finished, rectangle_nodes, stopped
from solvers.treemap.memory import gc_paused
from solvers.treemap.options import SliceDiceOptions
from solvers.treemap.schema import TreemapInstance

#: The clock and the cancel flag are polled after this many nodes.
POLL_EVERY = 2048


class SliceDiceSolver:
    """Slice-and-dice: children in input order, side by side, direction alternating with depth."""

    name = "slice_dice"
    Options = SliceDiceOptions

    @gc_paused()
    def solve(self, instance: TreemapInstance, options: SliceDiceOptions, progress: Progress, cancel: Cancel) -> Result:
        """Cut each node's rectangle into strips proportional to its children's weights."""
        watch = Deadline(options.time_limit_s, cancel)
        n = instance.size
        x0s, y0s = [0.0] * n, [0.0] * n
        x1s, y1s = [instance.width] * n, [instance.height] * n
        weight, child_start, depth = instance.weight, instance.child_start, instance.depth
        next_poll = 0
        for node in range(n):
            lo, hi = child_start[node], child_start[node + 1]
            if hi == lo:
                continue
            if node >= next_poll:
                next_poll = node + POLL_EVERY
                if (reason := watch.stop_reason()) is not None:
                    return stopped(reason, watch)
            total = weight[node]
            done = 0.0
            if depth[node] % 2 == 0:  # vertical strips, left to right
                start, length = x0s[node], x1s[node] - x0s[node]
                pos = start
                for kid in range(lo, hi):
                    done += weight[kid]
                    end = x1s[node] if kid == hi - 1 else start + length * (done / total)
                    x0s[kid], y0s[kid], x1s[kid], y1s[kid] = pos, y0s[node], end, y1s[node]
                    pos = end
            else:  # horizontal strips, bottom to top
                start, length = y0s[node], y1s[node] - y0s[node]
                pos = start
                for kid in range(lo, hi):
                    done += weight[kid]
                    end = y1s[node] if kid == hi - 1 else start + length * (done / total)
                    x0s[kid], y0s[kid], x1s[kid], y1s[kid] = x0s[node], pos, x1s[node], end
                    pos = end
        layout_s = watch.elapsed()
        nodes = rectangle_nodes(instance, (x0s, y0s, x1s, y1s), watch)
        return finished(nodes, "max_side_ratio", 0.0, watch, progress, {"layout_time_s": layout_s})
