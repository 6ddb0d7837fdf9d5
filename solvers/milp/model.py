"""The parsed MILP model every parser produces and every back-end and the checker read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import scipy.sparse as sp

from solvers.base import Sense

#: The infinity threshold: a bound or right-hand side of this magnitude or more is infinite (HiGHS'
#: convention), in every reader, back-end and the check alike. On the impossible side (a lower bound of
#: +inf, an upper bound of −inf) no finite value satisfies it, so such a model is infeasible.
INFINITE_BOUND = 1e20


class VarType(IntEnum):
    """Variable domains; binary variables are integer variables with bounds within [0, 1]."""

    continuous = 0
    integer = 1
    semicontinuous = 2


@dataclass
class MilpModel:
    """A mixed-integer linear program: optimise c·x + offset s.t. row_lb ≤ A x ≤ row_ub, lb ≤ x ≤ ub.

    A semi-continuous variable takes 0 or a value in [lb, ub] (so any value of [lb, ub] when lb ≤ 0, and only
    0 when lb > ub). Infinite bounds are ±inf. ``notes`` are what the reader decided for the user (shown in
    the summary), e.g. an integer block it closed itself.
    """

    name: str
    sense: Sense
    objective_offset: float
    var_names: list[str]
    var_types: np.ndarray  # int8, VarType values
    lb: np.ndarray
    ub: np.ndarray
    obj: np.ndarray
    row_names: list[str]
    matrix: sp.csr_matrix  # rows × variables
    row_lb: np.ndarray
    row_ub: np.ndarray
    source_format: str = "json"
    var_index: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.var_index:
            self.var_index = {name: j for j, name in enumerate(self.var_names)}

    @property
    def num_vars(self) -> int:
        """Number of variables (columns)."""
        return len(self.var_names)

    @property
    def num_rows(self) -> int:
        """Number of constraints (rows)."""
        return len(self.row_names)

    @property
    def num_nonzeros(self) -> int:
        """Number of stored nonzero coefficients of the constraint matrix."""
        return int(self.matrix.nnz)

    @property
    def num_integer(self) -> int:
        """Number of integer (including binary) variables."""
        return int(np.count_nonzero(self.var_types == VarType.integer))

    @property
    def num_binary(self) -> int:
        """Number of integer variables whose bounds lie within [0, 1]."""
        is_int = self.var_types == VarType.integer
        return int(np.count_nonzero(is_int & (self.lb >= 0) & (self.ub <= 1)))

    @property
    def num_semicontinuous(self) -> int:
        """Number of semi-continuous variables."""
        return int(np.count_nonzero(self.var_types == VarType.semicontinuous))

    @property
    def num_continuous(self) -> int:
        """Number of continuous variables."""
        return int(np.count_nonzero(self.var_types == VarType.continuous))

    @property
    def is_lp(self) -> bool:
        """True when no variable is integer or semi-continuous."""
        return self.num_continuous == self.num_vars

    def objective_value(self, x: np.ndarray) -> float:
        """c·x + offset, in the model's own sense."""
        return float(np.dot(self.obj, x)) + self.objective_offset

    def solution_dict(self, x: np.ndarray | list[float]) -> dict[str, dict[str, float]]:
        """The API's solution JSON ``{"values": {name: value}}`` with plain floats: integer variables rounded
        to whole numbers (a back-end's 5.999999999999977 is 6; the check then verifies these values), and
        no -0.0."""
        values = np.asarray(x, dtype=float)
        values = np.where(self.var_types == VarType.integer, np.round(values), values) + 0.0
        return {"values": {name: float(v) for name, v in zip(self.var_names, values, strict=True)}}
