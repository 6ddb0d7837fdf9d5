"""Finite bounds implied by the rows, for variables declared without them (no native imports).

One round of activity-based bound propagation: for a row with finite upper bound u and an entry a_ij,
    a_ij·x_j ≤ u − (minimum activity of the row's other terms),
and symmetrically for a finite lower bound with the maximum activity. Only infinite bounds are replaced, and
each replacement is loosened by one unit past the rounded value, so floating-point error cannot cut off a
feasible point: the model keeps exactly the same feasible set.
"""

from __future__ import annotations

import numpy as np

from solvers.milp.schema import MilpModel

#: Propagation rounds (each can make more bounds finite, from bounds made finite in the round before).
ROUNDS = 5


def implied_bounds(model: MilpModel) -> tuple[np.ndarray, np.ndarray]:
    """Copies of (lb, ub) with infinite entries replaced by bounds the rows imply, where they imply one."""
    lb, ub = model.lb.copy(), model.ub.copy()
    matrix = model.matrix
    rows = np.repeat(np.arange(model.num_rows), np.diff(matrix.indptr))
    cols, coef = matrix.indices, matrix.data
    positive = coef > 0
    for _ in range(ROUNDS):
        if np.all(np.isfinite(lb) & np.isfinite(ub)):
            break
        # Each entry's smallest and largest contribution a·x over the variable's current bounds.
        low = np.where(positive, coef * lb[cols], coef * ub[cols])
        high = np.where(positive, coef * ub[cols], coef * lb[cols])
        new_lb, new_ub = np.full_like(lb, -np.inf), np.full_like(ub, np.inf)
        for contribution, row_bound, caps_upper in ((low, model.row_ub, positive), (high, model.row_lb, ~positive)):
            finite = np.isfinite(contribution)
            total = np.bincount(rows, weights=np.where(finite, contribution, 0.0), minlength=model.num_rows)
            infinite_count = np.bincount(rows, weights=~finite, minlength=model.num_rows)
            others_finite = (infinite_count[rows] - ~finite) == 0
            usable = others_finite & np.isfinite(row_bound[rows])
            others = total[rows] - np.where(finite, contribution, 0.0)
            with np.errstate(invalid="ignore", over="ignore"):
                implied = (row_bound[rows] - others) / coef
            upper = usable & caps_upper
            lower = usable & ~caps_upper
            np.minimum.at(new_ub, cols[upper], implied[upper])
            np.maximum.at(new_lb, cols[lower], implied[lower])
        fill_ub = ~np.isfinite(ub) & np.isfinite(new_ub)
        fill_lb = ~np.isfinite(lb) & np.isfinite(new_lb)
        if not (fill_ub.any() or fill_lb.any()):
            break
        ub[fill_ub] = np.ceil(new_ub[fill_ub]) + 1.0
        lb[fill_lb] = np.floor(new_lb[fill_lb]) - 1.0
    return lb, ub
