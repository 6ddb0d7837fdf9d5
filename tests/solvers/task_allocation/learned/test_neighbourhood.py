"""The policy's neighbourhood: exact's class model cut down to the kept pairs, and what HiGHS returns on it."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.base import NeverCancel
from solvers.task_allocation import KIND
from solvers.task_allocation.allocation import profit, to_solution
from solvers.task_allocation.learned.neighbourhood import solve_neighbourhood, within_pairs
from solvers.task_allocation.reduction import reduce_instance
from tests.solvers.task_allocation.helpers import brute_force_optimum, tiny_raw


def test_within_pairs_keeps_the_members_and_pairs_of_the_neighbourhood() -> None:
    # agents 0–3 are identical (one class of 4), agent 4 differs; task 0 needs 3 units of "a", task 1 one of "b"
    raw = {
        "capabilities": ["a", "b"],
        "agents": [{"id": f"twin{i}", "cost": 1, "capabilities": [1, 0]} for i in range(4)]
        + [{"id": "other", "cost": 1, "capabilities": [1, 1]}],
        "tasks": [
            {"id": "t0", "reward": 10, "requirements": [3, 0]},
            {"id": "t1", "reward": 10, "requirements": [0, 1]},
        ],
    }
    instance = KIND.parse(raw)
    reduced = reduce_instance(instance)
    assert sorted(members.size for members in reduced.classes) == [1, 4]
    keep = np.zeros((5, 2), dtype=bool)
    keep[[0, 1], 0] = True  # two of the twins may serve task 0
    keep[4, 1] = True  # the other agent only task 1
    local = within_pairs(reduced, keep)
    classes = {tuple(members.tolist()) for members in local.classes}
    assert classes == {(0, 1), (4,)}
    pairs = {
        (tuple(local.classes[c].tolist()), int(local.tasks[j]), int(upper))
        for c, j, upper in zip(local.pair_class, local.pair_task, local.pair_upper, strict=True)
    }
    # the twins' pair to task 0 holds at most the 2 kept twins; "other" keeps only its pair to task 1
    assert pairs == {((0, 1), 0, 2), ((4,), 1, 1)}


@pytest.mark.parametrize("seed", range(4))
def test_the_whole_instance_as_neighbourhood_gives_the_optimum(seed: int) -> None:
    instance = KIND.parse(tiny_raw(seed))
    everything = np.ones((instance.n_agents, instance.n_tasks), dtype=bool)
    empty = np.full(instance.n_agents, -1, dtype=np.int64)
    allocation, proved = solve_neighbourhood(
        instance, reduce_instance(instance), everything, empty, 30, 0, NeverCancel()
    )
    assert proved
    assert profit(instance, allocation) == pytest.approx(brute_force_optimum(instance), abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_a_neighbourhood_uses_only_its_pairs_and_keeps_the_incumbent_when_nothing_better_is_inside(seed: int) -> None:
    instance = KIND.parse(tiny_raw(seed))
    everything = np.ones((instance.n_agents, instance.n_tasks), dtype=bool)
    reduced = reduce_instance(instance)
    optimum, _ = solve_neighbourhood(
        instance, reduced, everything, np.full(instance.n_agents, -1, dtype=np.int64), 30, 0, NeverCancel()
    )
    # the neighbourhood of the optimum's own pairs: nothing better inside, so the optimum comes back
    keep = np.zeros_like(everything)
    assigned = np.flatnonzero(optimum >= 0)
    keep[assigned, optimum[assigned]] = True
    again, proved = solve_neighbourhood(instance, reduced, keep, optimum, 30, 0, NeverCancel())
    assert proved and profit(instance, again) == pytest.approx(profit(instance, optimum), abs=1e-9)
    # a neighbourhood without the optimum's pairs: whatever comes back uses kept pairs only
    keep = everything.copy()
    keep[assigned, optimum[assigned]] = False
    other, _ = solve_neighbourhood(
        instance, reduced, keep, np.full(instance.n_agents, -1, dtype=np.int64), 30, 0, NeverCancel()
    )
    used = np.flatnonzero(other >= 0)
    assert keep[used, other[used]].all()
    assert KIND.check(instance, to_solution(instance, other)).feasible
