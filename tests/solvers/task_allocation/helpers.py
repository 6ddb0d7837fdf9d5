"""Shared helpers for the task_allocation tests."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from solvers.task_allocation.model import Instance


class CancelAfter:
    """A Cancel that becomes set ``delay_s`` seconds after creation (or at once with 0)."""

    def __init__(self, delay_s: float) -> None:
        self._event = threading.Event()
        if delay_s <= 0:
            self._event.set()
        else:
            timer = threading.Timer(delay_s, self._event.set)
            timer.daemon = True
            timer.start()

    def is_set(self) -> bool:
        return self._event.is_set()


def brute_force_optimum(instance: Instance) -> float:
    """The optimum by enumerating every agent → task-or-nothing map (tiny instances only)."""
    n, t = instance.n_agents, instance.n_tasks
    best = 0.0
    for choice in itertools.product(range(-1, t), repeat=n):
        supply = [[0.0] * instance.n_capabilities for _ in range(t)]
        cost = 0.0
        for agent, task in enumerate(choice):
            if task >= 0:
                cost += float(instance.assign_cost[agent, task])
                for k in range(instance.n_capabilities):
                    supply[task][k] += float(instance.agent_capability[agent, k])
        reward = sum(
            float(instance.task_reward[j])
            for j in range(t)
            if all(supply[j][k] >= instance.task_requirement[j, k] for k in range(instance.n_capabilities))
        )
        best = max(best, reward - cost)
    return best


def tiny_raw(seed: int) -> dict[str, Any]:
    """A random instance small enough for brute force (6 agents, 3 tasks), sometimes with pair costs."""
    from solvers.task_allocation.generate import random_instance

    return random_instance(seed, n_agents=6, n_tasks=3, n_capabilities=2, pair_costs=seed % 2 == 1)
