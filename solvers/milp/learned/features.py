"""Features of the variable–constraint bipartite graph of a MILP (Gasse et al. 2019, Han et al. 2023), in numpy.

Every feature is scale-free, so one network reads instances of any size of its family: the objective is
turned into a minimisation and divided by its largest magnitude, each row by its largest coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from solvers.milp.schema import MilpModel, VarType

FloatArray = npt.NDArray[np.float64]

#: Names of the variable features, in column order.
VARIABLE_FEATURES = (
    "objective",  # c_j (minimisation form) / max |c|
    "objective_per_coefficient",  # c_j / mean |a_ij| over its rows, scaled like the objective
    "binary",
    "integer",  # general integer (not binary)
    "continuous",
    "lower_finite",
    "upper_finite",
    "lower",  # finite bounds, signed log1p, 0 when infinite
    "upper",
    "degree",  # nonzeros in the column / the largest column degree
    "log_degree",
    "coefficient_mean",  # of the row-normalised coefficients a_ij / max_k |a_ik|
    "coefficient_min",
    "coefficient_max",
)
#: Names of the constraint features, in column order.
CONSTRAINT_FEATURES = (
    "less_equal",  # only an upper side
    "greater_equal",  # only a lower side
    "equality",
    "ranged",  # both sides, different
    "rhs",  # the finite side (upper for ranged rows) / the row's largest coefficient, signed log1p
    "degree",  # nonzeros in the row / the largest row degree
    "log_degree",
    "coefficient_mean",  # of the row-normalised coefficients
    "coefficient_min",
    "objective_cosine",  # cosine between the row and the (minimisation) objective
)


@dataclass(frozen=True)
class GraphFeatures:
    """The bipartite graph of one model: node features and the two mean-aggregation operators."""

    variables: FloatArray  # num_vars × len(VARIABLE_FEATURES)
    constraints: FloatArray  # num_rows × len(CONSTRAINT_FEATURES)
    #: rows × variables: row-normalised coefficient / row degree (the mean over a row's variables).
    to_constraints: sp.csr_matrix
    #: variables × rows: row-normalised coefficient / column degree (the mean over a column's rows).
    to_variables: sp.csr_matrix
    binary: npt.NDArray[np.bool_]  # which variables are binary (the ones the network predicts)


def _signed_log(values: FloatArray) -> FloatArray:
    out: FloatArray = np.sign(values) * np.log1p(np.abs(values))
    return out


def binary_mask(model: MilpModel) -> npt.NDArray[np.bool_]:
    """Integer variables whose bounds lie within [0, 1] (and are not fixed at one value)."""
    is_int = model.var_types == VarType.integer
    mask: npt.NDArray[np.bool_] = is_int & (model.lb >= 0) & (model.ub <= 1) & (model.lb < model.ub)
    return mask


def graph_features(model: MilpModel) -> GraphFeatures:
    """The features of ``model``'s bipartite graph (see VARIABLE_FEATURES and CONSTRAINT_FEATURES)."""
    matrix = sp.csr_matrix(model.matrix, dtype=np.float64)
    matrix.eliminate_zeros()
    cost = model.obj.astype(np.float64) * (-1.0 if model.sense == "maximize" else 1.0)
    cost_scale = max(float(np.max(np.abs(cost), initial=0.0)), 1e-12)
    abs_matrix = abs(matrix)
    row_scale = np.maximum(np.asarray(abs_matrix.max(axis=1).todense()).ravel(), 1e-12)
    normalised = sp.csr_matrix(sp.diags(1.0 / row_scale) @ matrix)
    row_degree = np.diff(normalised.indptr).astype(np.float64)
    col_degree = np.diff(normalised.tocsc().indptr).astype(np.float64)

    binary = binary_mask(model)
    is_int = model.var_types == VarType.integer
    lb, ub = model.lb.astype(np.float64), model.ub.astype(np.float64)
    lb_finite, ub_finite = np.isfinite(lb), np.isfinite(ub)
    per_column = np.maximum(col_degree, 1.0)
    coef_mean = np.asarray(normalised.sum(axis=0)).ravel() / per_column
    abs_mean = np.asarray(abs(normalised).sum(axis=0)).ravel() / per_column
    coef_min, coef_max = _stored_extremes(normalised.tocsc())
    max_col = max(float(col_degree.max(initial=0.0)), 1.0)
    variables = np.column_stack(
        [
            cost / cost_scale,
            np.where(abs_mean > 0, cost / cost_scale / np.maximum(abs_mean, 1e-12), 0.0),
            binary,
            is_int & ~binary,
            model.var_types != VarType.integer,
            lb_finite,
            ub_finite,
            _signed_log(np.where(lb_finite, lb, 0.0)),
            _signed_log(np.where(ub_finite, ub, 0.0)),
            col_degree / max_col,
            np.log1p(col_degree),
            coef_mean,
            coef_min,
            coef_max,
        ]
    ).astype(np.float64)

    row_lb, row_ub = model.row_lb.astype(np.float64), model.row_ub.astype(np.float64)
    has_lb, has_ub = np.isfinite(row_lb), np.isfinite(row_ub)
    equality = has_lb & has_ub & (row_lb == row_ub)
    ranged = has_lb & has_ub & ~equality
    rhs = np.where(has_ub, row_ub, np.where(has_lb, row_lb, 0.0)) / row_scale
    row_sums = np.asarray(normalised.sum(axis=1)).ravel()
    max_row = max(float(row_degree.max(initial=0.0)), 1.0)
    row_norm = np.sqrt(np.asarray(normalised.multiply(normalised).sum(axis=1)).ravel())
    cost_norm = max(float(np.linalg.norm(cost)), 1e-12)
    cosine = (normalised @ cost) / np.maximum(row_norm, 1e-12) / cost_norm
    row_min, _ = _stored_extremes(normalised)
    constraints = np.column_stack(
        [
            has_ub & ~has_lb,
            has_lb & ~has_ub,
            equality,
            ranged,
            _signed_log(rhs),
            row_degree / max_row,
            np.log1p(row_degree),
            np.where(row_degree > 0, row_sums / np.maximum(row_degree, 1.0), 0.0),
            row_min,
            cosine,
        ]
    ).astype(np.float64)

    to_constraints = sp.csr_matrix(sp.diags(1.0 / np.maximum(row_degree, 1.0)) @ normalised)
    to_variables = sp.csr_matrix(sp.diags(1.0 / np.maximum(col_degree, 1.0)) @ normalised.T)
    return GraphFeatures(variables, constraints, to_constraints, to_variables, binary)


def _stored_extremes(compressed: sp.csr_matrix | sp.csc_matrix) -> tuple[FloatArray, FloatArray]:
    """Min and max of the stored entries of each row (CSR) or column (CSC); 0 for an empty one."""
    starts = compressed.indptr[:-1]
    nonempty = np.diff(compressed.indptr) > 0
    low, high = np.zeros(len(starts)), np.zeros(len(starts))
    if compressed.nnz:
        low[nonempty] = np.minimum.reduceat(compressed.data, starts[nonempty])
        high[nonempty] = np.maximum.reduceat(compressed.data, starts[nonempty])
    return low, high
