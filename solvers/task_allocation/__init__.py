"""The ``task_allocation`` kind: agents with capability vectors form coalitions that complete tasks.

Importing this module loads no native solver library; solvers are loaded through ``SolverSpec.target``.
"""

from __future__ import annotations

from solvers.base import Kind, SolverSpec
from solvers.task_allocation.check import check
from solvers.task_allocation.learned.options import LearnedOptions
from solvers.task_allocation.options import ExactOptions, GeneticOptions, GreedyOptions
from solvers.task_allocation.schema import InstanceModel, SolutionModel, parse, summary
from solvers.task_allocation.svg import render_svg

EXAMPLE = {
    "capabilities": ["weld", "lift"],
    "agents": [
        {"id": "welder", "cost": 3, "capabilities": [2, 0]},
        {"id": "crane", "cost": 4, "capabilities": [0, 3]},
        {"id": "all-rounder", "cost": 6, "capabilities": [1, 2]},
    ],
    "tasks": [
        {"id": "bridge", "reward": 12, "requirements": [2, 3]},
        {"id": "fence", "reward": 5, "requirements": [1, 0]},
    ],
    "pair_costs": None,
}

SOLVERS: dict[str, SolverSpec] = {
    "exact": SolverSpec(
        name="exact",
        exact=True,
        learned=False,
        description="Coalition MILP after exact reductions (identical agents merged, useless agents and "
        "unprofitable tasks dropped), warm-started by greedy; HiGHS (default) or CP-SAT back-end. Proves optimality.",
        options=ExactOptions,
        target="solvers.task_allocation.exact:ExactSolver",
    ),
    "greedy": SolverSpec(
        name="greedy",
        exact=False,
        learned=False,
        description="Ratio-greedy coalition per task, most profitable task committed first; fast, no bound.",
        options=GreedyOptions,
        target="solvers.task_allocation.greedy:GreedySolver",
    ),
    "genetic": SolverSpec(
        name="genetic",
        exact=False,
        learned=False,
        description="Genetic algorithm baseline: repair to feasibility, coalition crossover, mutation, "
        "elitism; seedable.",
        options=GeneticOptions,
        target="solvers.task_allocation.genetic:GeneticSolver",
    ),
    "learned": SolverSpec(
        name="learned",
        exact=False,
        learned=True,
        description="Trained two-stage policy (attention over agents and tasks, numpy): sampled "
        "pre-assignments repaired into coalitions, policy-guided local search, the policy's neighbourhood "
        "solved by HiGHS, then on large instances windows of related tasks re-solved by HiGHS.",
        options=LearnedOptions,
        target="solvers.task_allocation.learned.solver:LearnedSolver",
        trainer="solvers.task_allocation.learned.train",
    ),
}

KIND = Kind(
    name="task_allocation",
    title="Multi-entity task allocation",
    description="Assign agents (cost, capability vector) to tasks (reward, requirement vector); a task pays "
    "when its coalition covers every requirement, every assigned agent costs. Maximise profit.",
    sense="maximize",
    parse=parse,
    check=check,
    summary=summary,
    solvers=SOLVERS,
    default_solver="exact",
    instance_schema=InstanceModel.model_json_schema(),
    result_schema=SolutionModel.model_json_schema(),
    example=EXAMPLE,
    render_svg=render_svg,
)
