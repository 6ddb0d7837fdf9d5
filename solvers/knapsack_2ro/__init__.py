"""Two-stage robust knapsack (Arslan & Detienne 2022): select now, produce or repair after the worst case.

Importing this package loads no native solver: the solvers live in ``exact`` and ``nominal`` and are
loaded through :attr:`~solvers.base.SolverSpec.target` by the worker only.
"""

from __future__ import annotations

from solvers.base import JSON, Kind, SolverSpec, Verification
from solvers.knapsack_2ro.learned.options import Neur2roOptions
from solvers.knapsack_2ro.options import ExactOptions, NominalOptions
from solvers.knapsack_2ro.schema import Instance, SolutionModel, instance_json_schema, parse, summary


def _check(instance: Instance, solution: JSON) -> Verification:
    """Import the checker (numpy, scipy) only when a solution is checked."""
    from solvers.knapsack_2ro.check import check

    return check(instance, solution)


EXAMPLE: JSON = {
    "format": "json",
    "capacity": 10,
    "budget": 1.0,
    "items": [
        {"profit": 8.0, "degradation": 4.0, "weight": 5, "repair_weight": 2, "outsource_penalty": 10.0},
        {"profit": 6.0, "degradation": 3.0, "weight": 4, "repair_weight": 1, "outsource_penalty": 7.0},
        {"profit": 5.0, "degradation": 2.0, "weight": 3, "repair_weight": 1, "outsource_penalty": 6.0},
    ],
}

SOLVERS: dict[str, SolverSpec] = {
    "exact": SolverSpec(
        name="exact",
        exact=True,
        learned=False,
        description="Branch-and-price on the Dantzig–Wolfe reformulation; proves an upper bound at any time.",
        options=ExactOptions,
        target="solvers.knapsack_2ro.exact:BranchAndPriceSolver",
    ),
    "nominal": SolverSpec(
        name="nominal",
        exact=False,
        learned=False,
        description="Baseline: select what the deterministic knapsack (no degradation) produces.",
        options=NominalOptions,
        target="solvers.knapsack_2ro.nominal:NominalSolver",
    ),
    "neur2ro": SolverSpec(
        name="neur2ro",
        exact=False,
        learned=True,
        description=(
            "Neur2RO: a trained value network proposes selections, each one evaluated exactly; the time left "
            "goes to branch-and-price started from them (proven bound; issues 9, 19)."
        ),
        options=Neur2roOptions,
        target="solvers.knapsack_2ro.learned.solver:Neur2roSolver",
        trainer="solvers.knapsack_2ro.learned.train",
    ),
}


KIND = Kind(
    name="knapsack_2ro",
    title="Two-stage robust knapsack",
    description=(
        "Select items now; after the worst degradation ξ (Σξ ≤ Γ) produce, repair or outsource them. "
        "Maximise the worst-case profit, evaluated exactly for every returned selection."
    ),
    sense="maximize",
    parse=parse,
    check=_check,
    summary=summary,
    solvers=SOLVERS,
    default_solver="exact",
    instance_schema=instance_json_schema(),
    result_schema=SolutionModel.model_json_schema(),
    example=EXAMPLE,
)
