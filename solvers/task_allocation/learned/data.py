"""Seeded instances and exact labels for training and evaluating the learned policy.

Instance k of a set is drawn from its seed by :func:`recipe` (family, size, capabilities) and built by
:func:`solvers.task_allocation.generate.generate`. Training instances use :data:`TRAINING_SEEDS`, the
held-out evaluation set :data:`EVALUATION_SEEDS`, a disjoint range. A label is the allocation ``exact``
proves optimal (instances it does not prove within the time limit are left out).
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass

import numpy as np

from solvers.base import JSON, NeverCancel, NullProgress, SolutionStatus
from solvers.task_allocation.generate import Family, generate
from solvers.task_allocation.schema import Instance, parse

#: Seeds of training instances: training instance k has seed TRAINING_SEEDS[k].
TRAINING_SEEDS = range(30_000_000, 30_100_000)
#: Seeds of the held-out evaluation instances (bench/task_allocation.py --learned-eval), disjoint from training.
EVALUATION_SEEDS = range(40_000_000, 40_010_000)
#: Seeds of development instances for choosing the search's settings (bench/task_allocation.py --suite
#: development): inside TRAINING_SEEDS but past every seed the committed weights were trained on, and disjoint
#: from the evaluation seeds.
DEVELOPMENT_SEEDS = range(30_095_000, 30_100_000)
#: Families drawn by :func:`recipe`, with their probabilities.
RECIPE_FAMILIES: tuple[Family, ...] = ("random", "specialists", "stations", "grid")
FAMILY_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
#: Largest generated size (agents × tasks), the evaluation bound of issue 13.
MAX_RECIPE_AGENTS = 50
MAX_RECIPE_TASKS = 15


@dataclass(frozen=True)
class Recipe:
    """Parameters of one generated instance."""

    seed: int
    family: Family
    n_agents: int
    n_tasks: int
    n_capabilities: int
    pair_costs: bool

    def raw(self) -> JSON:
        """The raw instance."""
        return generate(self.seed, self.n_agents, self.n_tasks, self.n_capabilities, self.family, self.pair_costs)

    def instance(self) -> Instance:
        """The parsed instance."""
        return parse(self.raw())


def recipe(seed: int) -> Recipe:
    """Family and size drawn from ``seed``: 3–15 tasks, 2.5–4 agents per task (at most 50), 2–5 capabilities."""
    rng = np.random.default_rng([seed, 13])
    family: Family = RECIPE_FAMILIES[int(rng.choice(len(RECIPE_FAMILIES), p=FAMILY_WEIGHTS))]
    n_tasks = int(rng.integers(3, MAX_RECIPE_TASKS + 1))
    n_agents = min(MAX_RECIPE_AGENTS, round(n_tasks * rng.uniform(2.5, 4.0)))
    n_capabilities = int(rng.integers(2, 6))
    pair_costs = family == "random" and bool(rng.random() < 0.3)
    return Recipe(seed, family, n_agents, n_tasks, n_capabilities, pair_costs)


@dataclass(frozen=True)
class Label:
    """The proven optimum of one seeded instance (``task_of_agent`` −1: unassigned)."""

    seed: int
    optimum: float
    task_of_agent: list[int]
    exact_seconds: float


def exact_label(seed: int, time_limit_s: float = 30.0) -> Label | None:
    """Solve instance ``seed`` with ``exact`` (HiGHS, 1 thread); None unless it proves optimality."""
    import time

    from solvers.task_allocation.exact import ExactSolver
    from solvers.task_allocation.options import ExactOptions

    instance = recipe(seed).instance()
    started = time.monotonic()
    result = ExactSolver().solve(instance, ExactOptions(time_limit_s=time_limit_s), NullProgress(), NeverCancel())
    seconds = time.monotonic() - started
    if result.status != SolutionStatus.optimal or result.solution is None or result.objective is None:
        return None
    index = {agent_id: i for i, agent_id in enumerate(instance.agent_ids)}
    task_index = {task_id: j for j, task_id in enumerate(instance.task_ids)}
    task_of_agent = [-1] * instance.n_agents
    for task_id, agents in result.solution["assignments"].items():
        for agent_id in agents:
            task_of_agent[index[agent_id]] = task_index[task_id]
    return Label(seed, float(result.objective), task_of_agent, seconds)


def _label_task(args: tuple[int, float]) -> Label | None:
    return exact_label(*args)


def exact_labels(seeds: list[int], time_limit_s: float = 30.0, workers: int = 1) -> list[Label]:
    """Labels of the given seeds in seed order (the unproven left out); the same whatever ``workers`` is."""
    tasks = [(seed, time_limit_s) for seed in seeds]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            found = pool.map(_label_task, tasks, chunksize=1)
    else:
        found = [_label_task(task) for task in tasks]
    return [label for label in found if label is not None]
