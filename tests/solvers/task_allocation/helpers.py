"""Shared helpers for the task_allocation tests."""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from solvers.task_allocation.schema import Instance, cover_slack


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


@functools.cache
def subset_pairs(n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every pair (U, S) of subsets of n agents with S ⊆ U, as bit masks (3^n pairs)."""
    unions, parts = [], []
    for union in range(1 << n):
        part = union
        while True:
            unions.append(union)
            parts.append(part)
            if part == 0:
                break
            part = (part - 1) & union
    return np.array(unions, dtype=np.int64), np.array(parts, dtype=np.int64)


def brute_force_optimum(instance: Instance) -> float:
    """The optimum over every agent → task-or-nothing map, by a DP over agent subsets (≤ 12 agents).

    v_j(S) is task j's reward when coalition S covers it (the kind's rule, ``cover_slack``) minus S's
    cost; F_j(U) = max over S ⊆ U of v_j(S) + F_{j−1}(U ∖ S) enumerates every disjoint assignment.
    """
    n, t = instance.n_agents, instance.n_tasks
    assert n <= 12, "brute force is for tiny instances"
    subsets = np.arange(1 << n)
    members = (subsets[:, None] >> np.arange(n)[None, :]) & 1  # (2^n, n)
    supply = members @ instance.agent_capability  # (2^n, capabilities)
    union_of, part_of = subset_pairs(n)
    best = np.zeros(1 << n)
    for j in range(t):
        need = instance.task_requirement[j]
        covers = np.all(supply >= need - cover_slack(need), axis=1)
        value = np.where(covers, float(instance.task_reward[j]), 0.0) - members @ instance.assign_cost[:, j]
        new = np.full(1 << n, -np.inf)
        np.maximum.at(new, union_of, value[part_of] + best[union_of ^ part_of])
        best = new
    return float(best[-1])


def tiny_raw(seed: int) -> dict[str, Any]:
    """A random instance small enough for brute force (6 agents, 3 tasks), sometimes with pair costs."""
    from solvers.task_allocation.generate import random_instance

    return random_instance(seed, n_agents=6, n_tasks=3, n_capabilities=2, pair_costs=seed % 2 == 1)
