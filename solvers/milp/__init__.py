"""The ``milp`` kind: mixed-integer linear programs (JSON, MPS, CPLEX LP) solved by HiGHS, CP-SAT or SCIP.

Importing this module loads no native solver library; back-ends are loaded through ``SolverSpec.target``.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from solvers.base import JSON, Kind, SolverSpec
from solvers.milp.auto import choose_auto
from solvers.milp.check import check
from solvers.milp.learned.options import PredictAndSearchOptions
from solvers.milp.options import CpsatOptions, HighsOptions, ScipOptions
from solvers.milp.scaling import integer_refusal
from solvers.milp.schema import JsonInstance, MilpModel, Solution, TextInstance, parse
from solvers.milp.svg import render_svg


def summary(instance: MilpModel) -> JSON:
    """Sizes and features of a parsed model, and what the reader decided for the user (``notes``)."""
    return {
        "name": instance.name,
        "sense": instance.sense,
        "variables": instance.num_vars,
        "constraints": instance.num_rows,
        "nonzeros": instance.num_nonzeros,
        "integer": instance.num_integer,
        "binary": instance.num_binary,
        "semicontinuous": instance.num_semicontinuous,
        "continuous": instance.num_continuous,
        "format": instance.source_format,
        "notes": list(instance.notes),
    }


def _instance_schema() -> JSON:
    schema: JSON = TypeAdapter(JsonInstance | TextInstance).json_schema()
    schema["description"] = "A MILP in the JSON form, or an MPS / CPLEX LP file (plain or gzip+base64)."
    return schema


EXAMPLE: JSON = {
    "format": "json",
    "sense": "maximize",
    "objective_offset": 0,
    "variables": [
        {"name": "x", "type": "integer", "lb": 0, "ub": 10, "obj": 5.0},
        {"name": "y", "type": "continuous", "lb": 0, "ub": None, "obj": 4.0},
        {"name": "z", "type": "binary", "obj": 3.0},
    ],
    "constraints": [
        {"name": "capacity", "terms": {"x": 6.0, "y": 4.0, "z": 5.0}, "lb": None, "ub": 24.0},
        {"name": "mix", "terms": {"x": 1.0, "y": 2.0}, "lb": None, "ub": 6.0},
    ],
}

SOLVERS: dict[str, SolverSpec] = {
    "highs": SolverSpec(
        name="highs",
        exact=True,
        learned=False,
        description="HiGHS branch-and-cut (MIP) and simplex (LP); takes every model, semi-continuous too.",
        options=HighsOptions,
        target="solvers.milp.highs:HighsSolver",
        library="highspy",
    ),
    "cpsat": SolverSpec(
        name="cpsat",
        exact=True,
        learned=False,
        description="OR-Tools CP-SAT on pure integer models with integral data after exact decimal scaling; "
        "refuses continuous variables and bounds that are neither given nor implied.",
        options=CpsatOptions,
        target="solvers.milp.cpsat:CpsatSolver",
        library="ortools",
    ),
    "scip": SolverSpec(
        name="scip",
        exact=True,
        learned=False,
        description="SCIP branch-and-cut (PySCIPOpt); takes every model, semi-continuous by reformulation.",
        options=ScipOptions,
        target="solvers.milp.scip:ScipSolver",
        library="pyscipopt",
    ),
    "predict_and_search": SolverSpec(
        name="predict_and_search",
        exact=False,
        learned=True,
        description="Predict-and-Search: a graph network trained per family (set cover, combinatorial auction, "
        "facility location, independent set) puts its likeliest binaries in a trust region that HiGHS solves; "
        "the rest of the time HiGHS solves the full model from that answer (issue 12).",
        options=PredictAndSearchOptions,
        target="solvers.milp.learned.solver:PredictAndSearchSolver",
        trainer="solvers.milp.learned.train",
    ),
}


def _refusal(model: MilpModel, solver: str) -> str | None:
    """CP-SAT takes only models with integer variables and data that scale exactly to integers;
    predict_and_search only models with binary variables (what its network predicts)."""
    if solver == "cpsat":
        return integer_refusal(model)
    if solver == "predict_and_search" and model.num_binary == 0:
        return "it has no binary variables, and its network predicts only binaries"
    return None


KIND = Kind(
    name="milp",
    title="Mixed-integer linear programming",
    description="Optimise a linear objective over linear constraints with continuous, integer, binary and "
    "semi-continuous variables. Send JSON, free/fixed MPS or CPLEX LP; answers are verified independently.",
    sense="minimize",
    parse=parse,
    check=check,
    summary=summary,
    solvers=SOLVERS,
    default_solver="highs",
    instance_schema=_instance_schema(),
    result_schema=Solution.model_json_schema(),
    example=EXAMPLE,
    choose_auto=choose_auto,
    refusal=_refusal,
    render_svg=render_svg,
)

__all__ = ["KIND", "CpsatOptions", "HighsOptions", "MilpModel", "ScipOptions", "check", "parse", "summary"]
