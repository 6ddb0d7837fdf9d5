"""The ``auto`` rule of the milp kind: pick a back-end from the model's features (no native imports).

Measured in docs/benchmarks/milp.md: on pure integer models with integral (scaled) data, CP-SAT with one
LP-based worker solved as many instances as HiGHS and SCIP and was fastest by a wide margin; it cannot take
anything else, where HiGHS was at least as good as SCIP and handles LPs without branch-and-bound overhead.
"""

from __future__ import annotations

from solvers.milp.model import MilpModel
from solvers.milp.scaling import integer_refusal


def choose_auto(model: MilpModel) -> str:
    """``cpsat`` for models CP-SAT takes exactly, else ``highs``."""
    if integer_refusal(model) is None:
        return "cpsat"
    return "highs"
