"""An SVG picture of a model and its answer: the constraint matrix's sparsity, which variables are nonzero
and which rows are tight.

Large models are binned: at most ``MAX_BINS`` × ``MAX_BINS`` cells, each shaded by the share of its
entries that are nonzero, so the picture stays small whatever the model's size.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from solvers.milp.schema import MilpModel

#: Most cells along either side of the matrix picture.
MAX_BINS = 100
_SIDE = 480.0
_MARGIN = 60.0
_STRIP = 14.0
_TIGHT_TOLERANCE = 1e-6


def _bins(count: int) -> int:
    return max(1, min(count, MAX_BINS))


def _opacity(share: float) -> float:
    """Visible for any share above 0, full from a quarter on."""
    return 0.0 if share <= 0 else 0.2 + 0.8 * min(1.0, share * 4)


def _solution_vector(model: MilpModel, result: Any) -> np.ndarray | None:
    solution = result.get("solution") if isinstance(result, dict) else None
    values = solution.get("values") if isinstance(solution, dict) else None
    if not isinstance(values, dict):
        return None
    x = np.zeros(model.num_vars)
    for j, name in enumerate(model.var_names):
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        x[j] = value
    return x


def _shares(positions: np.ndarray, flags: np.ndarray, count: int, bins: int) -> np.ndarray:
    """Per bin of ``positions`` (0..count-1), the share of flagged items."""
    index = positions * bins // max(count, 1)
    totals = np.bincount(index, minlength=bins)
    flagged = np.bincount(index, weights=flags.astype(float), minlength=bins)
    return np.divide(flagged, totals, out=np.zeros(bins), where=totals > 0)


def render_svg(model: MilpModel, result: Any) -> str:
    """The picture as an SVG document; ``result`` is the API result object (its solution is optional)."""
    m, n = model.num_rows, model.num_vars
    row_bins, col_bins = _bins(m), _bins(n)
    cell_w, cell_h = _SIDE / col_bins, _SIDE / row_bins
    coo = model.matrix.tocoo()
    density = np.zeros((row_bins, col_bins))
    np.add.at(density, (coo.row * row_bins // max(m, 1), coo.col * col_bins // max(n, 1)), 1.0)
    capacity = np.outer(
        np.bincount(np.arange(m) * row_bins // max(m, 1), minlength=row_bins),
        np.bincount(np.arange(n) * col_bins // max(n, 1), minlength=col_bins),
    )
    share = np.divide(density, capacity, out=np.zeros_like(density), where=capacity > 0)
    top = _MARGIN + _STRIP + 4
    left = _MARGIN + _STRIP + 4
    width, height = left + _SIDE + 20, top + _SIDE + 40
    title = f"{model.name or 'model'}: {n} variables, {m} constraints, {model.num_nonzeros} nonzeros"
    status = result.get("status") if isinstance(result, dict) else None
    objective = result.get("objective") if isinstance(result, dict) else None
    shown = f"{objective:.10g}" if isinstance(objective, int | float) else "none"
    subtitle = f"status {status}, objective {shown}" if status else "no result"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="10" y="20" font-size="14">{escape(title)}</text>',
        f'<text x="10" y="38">{escape(subtitle)}</text>',
        f'<rect x="{left}" y="{top}" width="{_SIDE}" height="{_SIDE}" fill="none" stroke="#999"/>',
    ]
    for i, j in zip(*np.nonzero(share), strict=True):
        parts.append(
            f'<rect x="{left + j * cell_w:.2f}" y="{top + i * cell_h:.2f}" width="{cell_w:.2f}" '
            f'height="{cell_h:.2f}" fill="#333" fill-opacity="{_opacity(share[i, j]):.2f}"/>'
        )
    x = _solution_vector(model, result)
    if x is not None:
        nonzero = _shares(np.arange(n), np.abs(x) > 1e-9, n, col_bins)
        activity = model.matrix @ x
        scale = np.maximum(1.0, np.abs(np.where(np.isfinite(model.row_ub), model.row_ub, 0.0)))
        tight = (np.abs(activity - model.row_lb) <= _TIGHT_TOLERANCE * scale) | (
            np.abs(activity - model.row_ub) <= _TIGHT_TOLERANCE * scale
        )
        tight_share = _shares(np.arange(m), tight, m, row_bins) if m else np.zeros(0)
        for j, value in enumerate(nonzero):
            parts.append(
                f'<rect x="{left + j * cell_w:.2f}" y="{_MARGIN}" width="{cell_w:.2f}" height="{_STRIP}" '
                f'fill="#1f77b4" fill-opacity="{_opacity(value):.2f}"/>'
            )
        for i, value in enumerate(tight_share):
            parts.append(
                f'<rect x="{_MARGIN}" y="{top + i * cell_h:.2f}" width="{_STRIP}" height="{cell_h:.2f}" '
                f'fill="#d62728" fill-opacity="{_opacity(value):.2f}"/>'
            )
        legend = "blue: variables at nonzero values; red: tight constraints; grey: matrix nonzeros"
        parts.append(f'<text x="10" y="{height - 12:.0f}">{escape(legend)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
