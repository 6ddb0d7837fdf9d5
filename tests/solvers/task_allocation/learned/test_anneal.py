"""The compiled annealing of the learned solver: settled allocations, the optimum on tiny instances, allowed
pairs only, reproducible by seed, and stopping when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from solvers.task_allocation import KIND
from solvers.task_allocation.allocation import UNASSIGNED, allowed_pairs, covered_tasks, profit, to_solution
from solvers.task_allocation.generate import generate
from solvers.task_allocation.learned import anneal
from solvers.task_allocation.learned.anneal import Annealer, settle
from solvers.task_allocation.schema import Instance, parse
from tests.solvers.task_allocation.helpers import brute_force_optimum, tiny_raw

ROOT = Path(__file__).resolve().parents[4]


def _uniform_policy(instance: Instance) -> np.ndarray:
    """Probabilities (agents × (tasks + 1)) spread evenly over every task and "unassigned"."""
    return np.full((instance.n_agents, instance.n_tasks + 1), 1.0 / (instance.n_tasks + 1))


def _two_task_instance() -> Instance:
    return parse(
        {
            "capabilities": ["lift"],
            "agents": [{"id": f"a{i}", "cost": cost, "capabilities": [2.0]} for i, cost in enumerate([1, 1, 9, 1])],
            "tasks": [
                {"id": "covered", "reward": 10.0, "requirements": [4.0]},
                {"id": "losing", "reward": 5.0, "requirements": [2.0]},
            ],
        }
    )


def test_settle_releases_uncovered_and_money_losing_pools() -> None:
    instance = _two_task_instance()
    # a0, a1 cover "covered" (10 − 2); a2 alone covers "losing" but costs 9 > 5; a3 is unassigned
    assert settle(instance, np.array([0, 0, 1, UNASSIGNED])).tolist() == [0, 0, UNASSIGNED, UNASSIGNED]
    # a0 alone does not cover "covered": released
    assert settle(instance, np.array([0, UNASSIGNED, UNASSIGNED, 1])).tolist() == [UNASSIGNED, UNASSIGNED, -1, 1]


@pytest.mark.parametrize("seed", range(8))
def test_chains_reach_the_brute_force_optimum_on_tiny_instances(seed: int) -> None:
    instance = KIND.parse(tiny_raw(seed))
    annealer = Annealer(instance, allowed_pairs(instance), _uniform_policy(instance), seed)
    best = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
    for _ in range(5):
        allocation = annealer.chain(best, 2_000, lambda: False)[0]
        assert profit(instance, allocation) >= profit(instance, best) - 1e-9  # a chain never returns worse
        best = allocation
    assert profit(instance, best) == pytest.approx(brute_force_optimum(instance), abs=1e-9)
    assigned = best >= 0
    assert covered_tasks(instance, best)[best[assigned]].all()  # every assigned agent serves a covered task
    assert KIND.check(instance, to_solution(instance, best)).feasible


def test_moves_use_only_allowed_pairs() -> None:
    instance = KIND.parse(generate(3, n_agents=30, n_tasks=8))
    allowed = allowed_pairs(instance)
    allowed[:, 0] = False  # forbid task 0 to everyone
    annealer = Annealer(instance, allowed, _uniform_policy(instance), 1)
    allocation = annealer.chain(np.full(instance.n_agents, UNASSIGNED, dtype=np.int64), 50_000, lambda: False)[0]
    assigned = np.flatnonzero(allocation >= 0)
    assert assigned.size > 0 and allowed[assigned, allocation[assigned]].all()


def test_a_chain_is_reproducible_by_seed() -> None:
    instance = KIND.parse(generate(4, n_agents=40, n_tasks=12))
    start = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)

    def run(seed: int) -> list[int]:
        annealer = Annealer(instance, allowed_pairs(instance), _uniform_policy(instance), seed)
        allocation, _ = annealer.chain(start, 120_000, lambda: False)  # three calls of the compiled loop
        return [int(task) for task in allocation]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_chain_stops_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    instance = KIND.parse(generate(5, n_agents=200, n_tasks=50))
    calls: list[int] = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    monkeypatch.setattr(anneal, "MOVES_PER_CALL", 1_000)
    annealer = Annealer(instance, allowed_pairs(instance), _uniform_policy(instance), 0)
    allocation, done = annealer.chain(np.full(instance.n_agents, UNASSIGNED, dtype=np.int64), 10**12, stop_after_two)
    assert len(calls) == 3 and done == 2_000  # polled before each call of the compiled loop, and it ran twice
    verdict = KIND.check(instance, to_solution(instance, allocation))
    assert verdict.feasible and verdict.objective is not None
    assert verdict.objective == pytest.approx(profit(instance, allocation)) and verdict.objective >= 0


def test_a_chain_longer_than_its_time_is_shortened_to_fit() -> None:
    instance = KIND.parse(generate(6, n_agents=200, n_tasks=50))
    annealer = Annealer(instance, allowed_pairs(instance), _uniform_policy(instance), 0)
    started = time.monotonic()
    start = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
    allocation, done = annealer.chain(start, 10**12, lambda: False, 0.2)
    assert 0 < done < 10**12
    assert time.monotonic() - started < 5.0  # a chain of 10¹² moves would take a day
    assert KIND.check(instance, to_solution(instance, allocation)).feasible


def test_compiles_without_a_writable_cache_folder() -> None:
    # with only numba's zip-file locator allowed, no cache folder is found for this module (numba raises
    # "no locator available"): the loop must still compile, without the disk cache
    code = (
        "import numpy as np\n"
        "from solvers.task_allocation import KIND\n"
        "from solvers.task_allocation.allocation import allowed_pairs\n"
        "from solvers.task_allocation.learned.anneal import Annealer\n"
        "from tests.solvers.task_allocation.helpers import tiny_raw\n"
        "instance = KIND.parse(tiny_raw(0))\n"
        "policy = np.full((instance.n_agents, instance.n_tasks + 1), 1.0 / (instance.n_tasks + 1))\n"
        "start = np.full(instance.n_agents, -1, dtype=np.int64)\n"
        "print(Annealer(instance, allowed_pairs(instance), policy, 0).chain(start, 1000, lambda: False)[1])\n"
    )
    environment = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "ZipCacheLocator"}
    environment.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1000"
