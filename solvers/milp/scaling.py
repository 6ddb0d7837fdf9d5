"""Exact decimal scaling of model data to integers, and whether CP-SAT can take a model (no native imports)."""

from __future__ import annotations

import numpy as np

from solvers.milp.bounds import implied_bounds
from solvers.milp.model import MilpModel

#: How close value·scale must be to an integer to count as integral (relative to its size).
INTEGRALITY_EPS = 1e-9
#: Default largest power of ten data may be multiplied by (CpsatOptions.max_scale).
DEFAULT_MAX_SCALE = 1e6


def _is_integral(scaled: np.ndarray) -> np.ndarray:
    integral: np.ndarray = np.abs(scaled - np.round(scaled)) <= INTEGRALITY_EPS * np.maximum(1.0, np.abs(scaled))
    return integral


def integral_scale(values: np.ndarray, max_scale: float) -> int | None:
    """The smallest power of ten s ≤ max_scale with every finite value·s integral, or None."""
    finite = values[np.isfinite(values)]
    scale = 1
    while scale <= max_scale:
        if np.all(_is_integral(finite * scale)):
            return scale
        scale *= 10
    return None


def row_scales(model: MilpModel, max_scale: float) -> np.ndarray:
    """Per row, the smallest power of ten ≤ max_scale making its coefficients integral (0 where none)."""
    matrix = model.matrix
    row_of_entry = np.repeat(np.arange(model.num_rows), np.diff(matrix.indptr))
    scales = np.zeros(model.num_rows, dtype=np.int64)
    pending = np.ones(model.num_rows, dtype=bool)
    scale = 1
    while scale <= max_scale and pending.any():
        not_integral = ~_is_integral(matrix.data * scale)
        failing = np.bincount(row_of_entry[not_integral], minlength=model.num_rows) > 0
        scales[pending & ~failing] = scale
        pending &= failing
        scale *= 10
    return scales


def integer_refusal(model: MilpModel, max_scale: float = DEFAULT_MAX_SCALE) -> str | None:
    """Why an integer-only exact solver (CP-SAT) cannot take ``model``, or None when it can."""
    other = model.num_continuous + model.num_semicontinuous
    if other:
        return f"CP-SAT takes only integer variables; this model has {other} continuous or semi-continuous ones"
    lb, ub = implied_bounds(model)
    infinite = np.flatnonzero(~(np.isfinite(lb) & np.isfinite(ub)))
    if len(infinite):
        name = model.var_names[infinite[0]]
        return (
            f"CP-SAT needs finite bounds on every variable; {name!r} (and {len(infinite) - 1} more) "
            "has none, and the constraints imply none"
        )
    unscalable = np.flatnonzero(row_scales(model, max_scale) == 0)
    if len(unscalable):
        name = model.row_names[unscalable[0]]
        return f"row {name!r} has coefficients not integral after scaling by up to {max_scale:g}"
    if integral_scale(model.obj, max_scale) is None:
        return f"objective coefficients are not integral after scaling by up to {max_scale:g}"
    return None
