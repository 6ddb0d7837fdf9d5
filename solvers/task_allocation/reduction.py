"""Exact reductions for the ``exact`` solver: what can be dropped or merged without losing an optimum.

All costs are ≥ 0, so some optimal allocation completes only profitable tasks with *minimal*
coalitions (no member can leave). That licenses:

* tasks with no requirement are always completed by nobody (their reward is a constant);
* agent i is never in task j's minimal coalition unless it has a capability j needs;
* pair (i, j) with cost_ij ≥ reward_j is dominated (that task alone would earn ≤ 0);
* task j is dropped when its allowed agents cannot cover it, or when a lower bound on any
  covering coalition's cost (for each requirement k, the fractional cover of q_jk by the cheapest
  cost-per-unit agents; the largest over k) is ≥ reward_j;
* identical agents (same capabilities, same costs on every kept task) form one class with an
  integer count, removing their symmetry; in a minimal coalition a class contributes at most
  max_k ceil(q_jk / a_ck) members (over k it supplies), otherwise one of them could leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.task_allocation.allocation import UNASSIGNED, BoolArray, IntArray, coalition_cost_bound
from solvers.task_allocation.schema import FloatArray, Instance


@dataclass(frozen=True)
class ReducedModel:
    """The integer model's data: classes of agents × kept tasks, with pair bounds and costs."""

    tasks: IntArray  # original indices of the tasks in the model
    constant_reward: float  # rewards of tasks with no requirement
    classes: list[IntArray]  # original agent indices per class
    class_capability: FloatArray  # (classes, capabilities)
    pair_class: IntArray  # per allowed pair: class index
    pair_task: IntArray  # per allowed pair: position in ``tasks``
    pair_cost: FloatArray  # per allowed pair: cost of one member
    pair_upper: IntArray  # per allowed pair: most members of the class in the task
    requirement: FloatArray  # (kept tasks, capabilities)
    reward: FloatArray  # (kept tasks,)
    cost_bound: FloatArray  # (kept tasks,): lower bound on any covering coalition's cost

    @property
    def profit_bound(self) -> float:
        """A valid upper bound on the optimum: Σ_j max(0, reward_j − cost bound_j) + constant."""
        return self.constant_reward + float(np.maximum(self.reward - self.cost_bound, 0.0).sum())

    def class_counts(self, task_of_agent: IntArray) -> tuple[IntArray, BoolArray]:
        """Per-pair member counts and per-task completion of an allocation (for warm starts)."""
        position = {int(task): p for p, task in enumerate(self.tasks)}
        class_of_agent = np.full(task_of_agent.size, -1, dtype=np.int64)
        for c, members in enumerate(self.classes):
            class_of_agent[members] = c
        pair_of = {(int(c), int(p)): q for q, (c, p) in enumerate(zip(self.pair_class, self.pair_task, strict=True))}
        counts = np.zeros(self.pair_class.size, dtype=np.int64)
        completed = np.zeros(self.tasks.size, dtype=bool)
        for agent in np.flatnonzero(task_of_agent >= 0):
            p = position.get(int(task_of_agent[agent]))
            pair = pair_of.get((int(class_of_agent[agent]), p)) if p is not None else None
            if pair is not None:
                counts[pair] += 1
                completed[p] = True
        return counts, completed

    def allocation(self, n_agents: int, counts: IntArray) -> IntArray:
        """The agent-level allocation of per-pair counts (members of a class handed out in order)."""
        task_of_agent = np.full(n_agents, UNASSIGNED, dtype=np.int64)
        handed_out = np.zeros(len(self.classes), dtype=np.int64)
        for pair in np.flatnonzero(counts > 0):
            c, count = int(self.pair_class[pair]), int(counts[pair])
            members = self.classes[c][handed_out[c] : handed_out[c] + count]
            task_of_agent[members] = int(self.tasks[self.pair_task[pair]])
            handed_out[c] += count
        return task_of_agent


def reduce_instance(instance: Instance, enabled: bool = True) -> ReducedModel:
    """The model data after the reductions listed in the module docstring (or only singletons when off)."""
    requirement, capability, cost = instance.task_requirement, instance.agent_capability, instance.assign_cost
    needs_something = np.any(requirement > 0, axis=1)
    constant_reward = float(instance.task_reward[~needs_something].sum())
    kept = needs_something.copy()
    if enabled:
        allowed = ((capability > 0).astype(np.int32) @ (requirement > 0).T.astype(np.int32)) > 0
        allowed &= cost < instance.task_reward[None, :]
    else:
        allowed = np.ones((instance.n_agents, instance.n_tasks), dtype=bool)
    cost_bound = coalition_cost_bound(instance, allowed, kept)
    kept &= np.isfinite(cost_bound)
    if enabled:
        kept &= cost_bound < instance.task_reward
    tasks = np.flatnonzero(kept)
    allowed = allowed[:, tasks]
    agents = np.flatnonzero(allowed.any(axis=1))
    if enabled and agents.size:
        signature = np.hstack([capability[agents], cost[np.ix_(agents, tasks)]])
        _, class_of = np.unique(signature, axis=0, return_inverse=True)
        class_of = class_of.reshape(-1)
        classes = [agents[class_of == c] for c in range(int(class_of.max()) + 1)]
    else:
        classes = [np.array([agent], dtype=np.int64) for agent in agents]
    representative = np.array([int(members[0]) for members in classes], dtype=np.int64)
    class_size = np.array([members.size for members in classes], dtype=np.int64)
    upper = np.repeat(class_size[:, None], tasks.size, axis=1)
    if enabled and classes:
        with np.errstate(divide="ignore", invalid="ignore"):
            per_capability = np.ceil(requirement[tasks][None, :, :] / capability[representative][:, None, :] - 1e-9)
        per_capability[~np.isfinite(per_capability)] = 0
        upper = np.minimum(upper, np.maximum(per_capability.max(axis=2), 1).astype(np.int64))
    pair_class, pair_task = np.nonzero(allowed[representative]) if classes else (np.zeros(0), np.zeros(0))
    pair_class = pair_class.astype(np.int64)
    pair_task = pair_task.astype(np.int64)
    return ReducedModel(
        tasks=tasks,
        constant_reward=constant_reward,
        classes=classes,
        class_capability=capability[representative].reshape(len(classes), instance.n_capabilities),
        pair_class=pair_class,
        pair_task=pair_task,
        pair_cost=cost[representative[pair_class], tasks[pair_task]],
        pair_upper=upper[pair_class, pair_task],
        requirement=requirement[tasks],
        reward=instance.task_reward[tasks],
        cost_bound=cost_bound[tasks],
    )
