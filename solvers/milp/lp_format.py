"""CPLEX LP reader (in progress)."""

from __future__ import annotations

from solvers.milp.limits import ModelTextError
from solvers.milp.model import MilpModel


def read_lp(text: str) -> MilpModel:
    """Parse CPLEX LP text; raises :class:`ModelTextError` with the line number on any problem."""
    raise ModelTextError(0, "the LP format is not supported yet; send MPS or JSON")
