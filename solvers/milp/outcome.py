"""Helpers every milp back-end shares to turn a solver's end state into a Result."""

from __future__ import annotations

import numpy as np

from solvers.base import Sense, SolutionStatus, Termination, relative_gap
from solvers.milp.model import MilpModel, VarType

#: Incumbent events carry the full solution only up to this many variables (else objective only).
INCUMBENT_SOLUTION_MAX_VARS = 200_000
#: A solve that stopped with |objective − bound| at most this (relative or absolute) counts as optimal.
OPTIMALITY_TOLERANCE = 1e-6


def improves_incumbent(sense: Sense, new: float, old: float | None) -> bool:
    """True when objective ``new`` is strictly better than ``old`` (None: nothing yet)."""
    if old is None:
        return True
    return new < old if sense == "minimize" else new > old


def improves_bound(sense: Sense, new: float, old: float | None) -> bool:
    """True when proven bound ``new`` is strictly tighter than ``old``."""
    if not np.isfinite(new):
        return False
    if old is None:
        return True
    return new > old if sense == "minimize" else new < old


def finish_status(objective: float | None, bound: float | None) -> tuple[Termination, SolutionStatus]:
    """Termination and status of a solve the back-end reports as finished (optimal within its gap)."""
    if objective is None:
        return Termination.other, SolutionStatus.no_solution
    gap = relative_gap(objective, bound)
    if bound is None or gap is None or gap <= OPTIMALITY_TOLERANCE or abs(objective - bound) <= OPTIMALITY_TOLERANCE:
        return Termination.optimal, SolutionStatus.optimal
    return Termination.gap_limit, SolutionStatus.feasible


def inconsistent_bounds(model: MilpModel) -> bool:
    """True when some variable or row has lower bound > upper bound (an integer one: no integer inside)."""
    lb, ub = model.lb.copy(), model.ub.copy()
    is_int = model.var_types == VarType.integer
    lb[is_int] = np.ceil(lb[is_int] - 1e-9)
    ub[is_int] = np.floor(ub[is_int] + 1e-9)
    return bool(np.any(lb > ub) or np.any(model.row_lb > model.row_ub))
