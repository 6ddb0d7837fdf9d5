"""Exact decimal scaling of model data to integers, and whether CP-SAT can take a model (no native imports).

A row or the objective is scaled by the smallest power of ten s that makes every coefficient v an integer r
with r / s exactly v as a float, so the integer model has the decimal data the user wrote; data that no
allowed power makes integral are refused, never rounded.
"""

from __future__ import annotations

import numpy as np

from solvers.milp.bounds import implied_bounds
from solvers.milp.schema import MilpModel

#: Largest magnitude of a scaled coefficient (every integer up to it is a float, so the scaling is exact).
MAX_SCALED = 2.0**53
#: Default largest power of ten data may be multiplied by (CpsatOptions.max_scale).
DEFAULT_MAX_SCALE = 1e6
#: Row bounds are rounded inward past an absolute tolerance of 1/10⁶, kept as a fraction so that the arithmetic
#: is exact: the back-ends' feasibility tolerance (solvers/milp/outcome.py), so CP-SAT keeps the integer points
#: HiGHS and SCIP keep.
_TOLERANCE_DENOMINATOR = 10**6


def _is_integral(values: np.ndarray, scale: int) -> np.ndarray:
    """Per value v, whether v·scale is exactly an integer r in decimal terms: the decimal r / scale is a
    number whose nearest float is v (so 0.07·100 = 7, while 0.1 + 0.2 = 0.30000000000000004 needs 10¹⁷)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(values * scale)
        integral: np.ndarray = (np.abs(scaled) <= MAX_SCALED) & (scaled / scale == values)
    return integral


def scaled_row_bound(value: float, scale: int, lower: bool) -> int:
    """The bound on the integer activity A of a row scaled by ``scale``: the least A with A > (value − 10⁻⁶)·scale
    for a lower bound, the greatest A with A < (value + 10⁻⁶)·scale for an upper one, in exact integer
    arithmetic (no rounding error at any magnitude: x ≥ 10000000000.5 stays x ≥ 10000000001). The tolerance
    absorbs noise such as 0.1 + 0.2 and never admits a whole violation of 10⁻⁶."""
    numerator, denominator = value.as_integer_ratio()
    shift = -denominator if lower else denominator
    top = (numerator * _TOLERANCE_DENOMINATOR + shift) * scale
    bottom = denominator * _TOLERANCE_DENOMINATOR
    return top // bottom + 1 if lower else -(-top // bottom) - 1


def integral_scale(values: np.ndarray, max_scale: float) -> int | None:
    """The smallest power of ten s ≤ max_scale with every finite value·s integral, or None."""
    finite = values[np.isfinite(values)]
    scale = 1
    while scale <= max_scale:
        if np.all(_is_integral(finite, scale)):
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
        not_integral = ~_is_integral(matrix.data, scale)
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
