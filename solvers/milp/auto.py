"""The ``auto`` rule of the milp kind: pick a back-end from the model's features (no native imports).

Measured in docs/benchmarks/milp.md: on pure integer models with integral (scaled) data, CP-SAT with one
LP-based worker solved every instance HiGHS or SCIP solved, plus one, and was fastest on 9 of its 10; it
cannot take anything else, where HiGHS solved more than SCIP and was faster on every instance.
"""

from __future__ import annotations

from solvers.milp.scaling import integer_refusal
from solvers.milp.schema import MilpModel


def choose_auto(model: MilpModel) -> str:
    """``cpsat`` for models CP-SAT takes exactly, else ``highs``."""
    if integer_refusal(model) is None:
        return "cpsat"
    return "highs"
