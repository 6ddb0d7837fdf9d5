"""Independent verification of a ``task_allocation`` solution, from the solution JSON alone."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from solvers.base import Verification
from solvers.task_allocation.schema import Instance, SolutionModel, cover_slack

CHECKED_BY = "task_allocation.check"


def _infeasible(message: str, violation: float = 0.0) -> Verification:
    return Verification(feasible=False, objective=None, max_violation=violation, checked_by=CHECKED_BY, message=message)


def check(instance: Instance, solution: Any) -> Verification:
    """Each agent serves at most one known task; tasks listed completed are covered; profit recomputed."""
    try:
        parsed = SolutionModel.model_validate(solution)
    except ValidationError as exc:
        details = "; ".join(f"{'/'.join(map(str, err['loc'])) or 'solution'}: {err['msg']}" for err in exc.errors()[:5])
        return _infeasible(f"malformed solution: {details}")
    task_index = {task_id: j for j, task_id in enumerate(instance.task_ids)}
    agent_index = {agent_id: i for i, agent_id in enumerate(instance.agent_ids)}
    serving: dict[str, str] = {}
    problems: list[str] = []
    for task_id, agent_ids in parsed.assignments.items():
        if task_id not in task_index:
            problems.append(f"unknown task {task_id!r} in assignments")
        for agent_id in agent_ids:
            if agent_id not in agent_index:
                problems.append(f"unknown agent {agent_id!r} assigned to {task_id!r}")
            elif agent_id in serving:
                problems.append(f"agent {agent_id!r} serves both {serving[agent_id]!r} and {task_id!r}")
            else:
                serving[agent_id] = task_id
    problems.extend(
        f"unknown task {task_id!r} in completed" for task_id in parsed.completed if task_id not in task_index
    )
    if problems:
        return _infeasible("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))

    n_caps = instance.n_capabilities
    supply = {task_id: [0.0] * n_caps for task_id in instance.task_ids}
    total_cost = 0.0
    for agent_id, task_id in serving.items():
        i, j = agent_index[agent_id], task_index[task_id]
        for k in range(n_caps):
            supply[task_id][k] += float(instance.agent_capability[i, k])
        total_cost += float(instance.agent_cost[i])
        if instance.pair_costs is not None:
            total_cost += float(instance.pair_costs[i, j])

    total_reward = 0.0
    claimed = set(parsed.completed)
    worst_shortfall = 0.0
    unlisted: list[str] = []
    for j, task_id in enumerate(instance.task_ids):
        shortfall = 0.0
        for k in range(n_caps):
            need = float(instance.task_requirement[j, k])
            if supply[task_id][k] < need - float(cover_slack(need)):  # the kind's one coverage rule
                shortfall = max(shortfall, need - supply[task_id][k])
        if shortfall == 0.0:
            total_reward += float(instance.task_reward[j])
            if task_id not in claimed:
                unlisted.append(task_id)
        elif task_id in claimed:
            worst_shortfall = max(worst_shortfall, shortfall)
            problems.append(f"task {task_id!r} is listed completed but its requirements fall short by {shortfall:g}")
    if problems:
        return _infeasible("; ".join(problems[:5]), worst_shortfall)
    message = ""
    if unlisted:
        message = f"covered but not listed as completed (reward counted): {', '.join(unlisted[:5])}"
    return Verification(
        feasible=True,
        objective=total_reward - total_cost,
        max_violation=0.0,
        checked_by=CHECKED_BY,
        message=message,
    )
