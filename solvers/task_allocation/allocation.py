"""Allocations as arrays, their profit, and the greedy coalition builder shared by the heuristics."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solvers.base import JSON
from solvers.task_allocation.schema import FloatArray, Instance, cover_slack

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Marks an unassigned agent in ``task_of_agent`` arrays.
UNASSIGNED = -1


def covered_tasks(instance: Instance, task_of_agent: IntArray) -> BoolArray:
    """Which tasks the allocation covers (a task with no requirement is always covered)."""
    supply = np.zeros_like(instance.task_requirement)
    assigned = task_of_agent >= 0
    np.add.at(supply, task_of_agent[assigned], instance.agent_capability[assigned])
    need = instance.task_requirement
    return np.asarray(np.all(supply >= need - cover_slack(need), axis=1))


def profit(instance: Instance, task_of_agent: IntArray) -> float:
    """Σ rewards of covered tasks − Σ costs of assigned agents."""
    assigned = np.flatnonzero(task_of_agent >= 0)
    reward = float(instance.task_reward[covered_tasks(instance, task_of_agent)].sum())
    cost = float(instance.assign_cost[assigned, task_of_agent[assigned]].sum())
    return reward - cost


def release_uncovered(instance: Instance, task_of_agent: IntArray) -> IntArray:
    """A copy with agents of uncovered tasks unassigned (they would only cost)."""
    result = task_of_agent.copy()
    covered = covered_tasks(instance, result)
    assigned = np.flatnonzero(result >= 0)
    result[assigned[~covered[result[assigned]]]] = UNASSIGNED
    return result


def to_solution(instance: Instance, task_of_agent: IntArray) -> JSON:
    """The API solution dict (plain JSON types) of an allocation."""
    assignments: dict[str, list[str]] = {}
    for agent in np.flatnonzero(task_of_agent >= 0):
        task_id = instance.task_ids[int(task_of_agent[agent])]
        assignments.setdefault(task_id, []).append(instance.agent_ids[int(agent)])
    covered = covered_tasks(instance, task_of_agent)
    completed = [instance.task_ids[int(j)] for j in np.flatnonzero(covered)]
    return {"assignments": assignments, "completed": completed}


def fractional_cover_cost(capability: FloatArray, cost: FloatArray, need: float) -> float:
    """Cheapest cost of covering ``need`` (up to its slack) with fractions of agents (∞ when they cannot)."""
    if need <= 0:
        return 0.0
    target = need - float(cover_slack(need))
    supplying = capability > 0
    rate = cost[supplying] / capability[supplying]
    amount = capability[supplying]
    order = np.argsort(rate, kind="stable")
    filled = np.cumsum(amount[order])
    last = int(np.searchsorted(filled, target))
    if last >= order.size:
        return math.inf
    before = float(filled[last - 1]) if last > 0 else 0.0
    spent = float((rate[order[:last]] * amount[order[:last]]).sum())
    return spent + max(target - before, 0.0) * float(rate[order[last]])


def coalition_cost_bound(instance: Instance, allowed: BoolArray, tasks: BoolArray | None = None) -> FloatArray:
    """Per task, a lower bound on the cost of any coalition of allowed agents covering it (∞: none can).

    For each requirement k the cheapest fractional cover of q_jk by cost-per-unit order bounds the cost
    of any covering coalition; the bound is the largest over k (0 for tasks outside ``tasks``).
    """
    bound = np.zeros(instance.n_tasks)
    requirement, capability, cost = instance.task_requirement, instance.agent_capability, instance.assign_cost
    for j in np.flatnonzero(tasks if tasks is not None else np.ones(instance.n_tasks, dtype=bool)):
        members = allowed[:, j]
        bound[j] = max(
            (
                fractional_cover_cost(capability[members, k], cost[members, j], float(requirement[j, k]))
                for k in np.flatnonzero(requirement[j] > 0)
            ),
            default=0.0,
        )
    return bound


def allowed_pairs(instance: Instance) -> BoolArray:
    """Pairs an optimal allocation may use: a needed capability, and a cost below the task's reward."""
    needs = instance.task_requirement > 0
    has = instance.agent_capability > 0
    allowed = (has.astype(np.int32) @ needs.T.astype(np.int32)) > 0
    return np.asarray(allowed & (instance.assign_cost < instance.task_reward[None, :]))


@dataclass
class CoalitionBuilder:
    """Builds a cheap covering coalition for one task from the free agents (ratio greedy + pruning).

    At each step it adds the free agent with the best ratio of newly covered requirement (each
    requirement normalised to 1) to assignment cost, then drops redundant agents, dearest first.
    ``noise`` > 0 multiplies scores by random factors in [1 − noise, 1 + noise] (randomised greedy).
    """

    instance: Instance
    #: (agents, tasks): the agent has a capability the task needs and costs less than its reward there
    allowed: BoolArray = field(init=False)
    #: (tasks,): no coalition can cover the task for less than its reward
    hopeless: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        inst = self.instance
        self.allowed = allowed_pairs(inst)
        self.hopeless = coalition_cost_bound(inst, self.allowed) >= inst.task_reward

    def build(
        self,
        task: int,
        free: BoolArray,
        rng: np.random.Generator | None = None,
        noise: float = 0.0,
        members: IntArray | None = None,
    ) -> tuple[IntArray, float] | None:
        """Agents covering ``task`` and their total cost, or None when the free agents cannot cover it.

        ``members`` (optional) are agents already on the task: the coalition is completed around them
        (they may still be pruned if redundant).
        """
        inst = self.instance
        requirement = inst.task_requirement[task]
        needed = np.flatnonzero(requirement > 0)
        if needed.size == 0:
            return np.zeros(0, dtype=np.int64), 0.0
        if self.hopeless[task]:
            return None
        fixed = np.zeros(0, dtype=np.int64) if members is None else members
        candidates = np.concatenate([fixed, np.flatnonzero(free & self.allowed[:, task])])
        if candidates.size == 0:
            return None
        capability = inst.agent_capability[np.ix_(candidates, needed)]
        need = requirement[needed]
        if np.any(capability.sum(axis=0) < need - cover_slack(need)):
            return None
        cost = inst.assign_cost[candidates, task]
        cost_floor = 1e-9 * max(1.0, float(inst.task_reward[task]))
        weight = 1.0 / need
        if rng is not None and noise > 0:
            weight = weight * rng.uniform(1 - noise, 1 + noise, size=need.size)
        residual = np.maximum(need - capability[: fixed.size].sum(axis=0), 0.0)
        available = np.ones(candidates.size, dtype=bool)
        available[: fixed.size] = False
        chosen: list[int] = list(range(fixed.size))
        while np.any(residual > cover_slack(need)):
            gain = (np.minimum(capability, residual) * weight).sum(axis=1)
            gain[~available] = 0.0
            score = gain / (cost + cost_floor)
            best = int(np.argmax(score))
            if gain[best] <= 0:
                return None
            chosen.append(best)
            available[best] = False
            residual = np.maximum(residual - capability[best], 0.0)
        kept = self._prune(np.array(chosen, dtype=np.int64), capability, cost, need)
        return candidates[kept], float(cost[kept].sum())

    @staticmethod
    def _prune(chosen: IntArray, capability: FloatArray, cost: FloatArray, need: FloatArray) -> IntArray:
        """Drop agents whose removal keeps the coalition covering, dearest first."""
        keep = np.ones(chosen.size, dtype=bool)
        supply = capability[chosen].sum(axis=0)
        for position in np.argsort(-cost[chosen], kind="stable"):
            without = supply - capability[chosen[position]]
            if np.all(without >= need - cover_slack(need)):
                keep[position] = False
                supply = without
        return chosen[keep]


def greedy_fill(
    builder: CoalitionBuilder,
    task_of_agent: IntArray,
    rule: str = "profit",
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    should_stop: Callable[[], bool] | None = None,
) -> IntArray:
    """Complete an allocation: repeatedly commit the open task whose greedy coalition scores best.

    ``rule`` is ``"profit"`` (reward − coalition cost) or ``"ratio"`` (reward / coalition cost); only
    tasks with positive profit are committed; ``noise`` also perturbs each task's score. Evaluation is
    lazy: a task whose coalition lost an agent is rebuilt only when it reaches the top of the queue,
    and committed if it is still on top after that (taking agents away rarely improves a coalition).
    When ``should_stop`` returns True the tasks committed so far are returned (a valid allocation).
    """
    inst = builder.instance
    result = task_of_agent.copy()
    if inst.n_tasks == 0:
        return result
    free = result < 0
    open_tasks = ~covered_tasks(inst, result)
    open_tasks[np.unique(result[result >= 0])] = False
    coalitions: dict[int, IntArray] = {}
    users: dict[int, set[int]] = {}  # agent -> open tasks whose cached coalition uses it
    stale: set[int] = set()
    queue: list[tuple[float, int]] = []  # (−score, task)
    current: dict[int, float] = {}  # task -> −score of its live queue entry

    def build(task: int) -> None:
        for agent in coalitions.pop(task, np.zeros(0, dtype=np.int64)):
            users.get(int(agent), set()).discard(task)
        stale.discard(task)
        current.pop(task, None)
        built = builder.build(task, free, rng, noise)
        if built is None:
            return
        agents, cost = built
        gain = float(inst.task_reward[task]) - cost
        if gain <= 0:
            return
        coalitions[task] = agents
        for agent in agents:
            users.setdefault(int(agent), set()).add(task)
        score = gain if rule == "profit" else float(inst.task_reward[task]) / max(cost, 1e-12)
        if rng is not None and noise > 0:
            score *= rng.uniform(1 - noise, 1 + noise)
        current[task] = -score
        heapq.heappush(queue, (-score, task))

    for task in np.flatnonzero(open_tasks):
        if should_stop is not None and should_stop():
            return result
        build(int(task))
    while queue and (should_stop is None or not should_stop()):
        negative_score, best = heapq.heappop(queue)
        if current.get(best) != negative_score:
            continue  # superseded by a rebuild, or no longer worth doing
        if best in stale:
            build(best)
            continue
        del current[best]
        agents = coalitions.pop(best)
        result[agents] = best
        free[agents] = False
        for agent in agents:
            stale.update(users.pop(int(agent), set()))
        stale.discard(best)
    return result
