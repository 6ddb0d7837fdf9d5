"""The large-neighbourhood search of the learned solver: which pairs a window holds, and what windows gain."""

from __future__ import annotations

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress
from solvers.task_allocation import KIND
from solvers.task_allocation.generate import generate
from solvers.task_allocation.learned import solver as solver_module
from solvers.task_allocation.learned.neighbourhood import task_affinity, window
from solvers.task_allocation.learned.options import LearnedOptions


def test_window_holds_its_tasks_their_agents_and_the_free_agents_the_policy_wants() -> None:
    # 6 agents, 4 tasks; agent a may serve tasks where allowed[a] is True
    allowed = np.array(
        [
            [1, 1, 0, 0],
            [1, 1, 1, 0],
            [0, 0, 1, 1],
            [0, 1, 1, 1],
            [1, 0, 0, 1],
            [1, 1, 1, 1],
        ],
        dtype=bool,
    )
    incumbent = np.array([0, 1, 2, 3, -1, -1])  # agents 4 and 5 are free
    pair_logit = np.zeros((6, 4), dtype=np.float32)
    pair_logit[5, :] = 3.0  # the policy wants agent 5 more than agent 4
    # tasks 0 and 1 are drawn to each other, 2 and 3 to each other
    affinity = np.array([[1, 0.9, 0, 0], [0.9, 1, 0, 0], [0, 0, 1, 0.9], [0, 0, 0.9, 1]], dtype=np.float32)
    rng = np.random.default_rng(0)
    for _ in range(20):
        keep, restricted = window(pair_logit, allowed, incumbent, affinity, 2, 1, rng)
        tasks = np.flatnonzero(keep.any(axis=0))
        assert set(tasks.tolist()) in ({0, 1}, {2, 3})  # the seed task and its closest task
        agents = set(np.flatnonzero(keep.any(axis=1)).tolist())
        serving = {int(a) for a in np.flatnonzero(np.isin(incumbent, tasks))}
        # the agents serving the window's tasks, and 1 free agent per task, the most wanted first
        assert agents == serving | {4, 5}
        assert not keep[:, [j for j in range(4) if j not in tasks]].any()
        assert np.all(keep <= allowed)
        assert np.array_equal(restricted, np.where(np.isin(incumbent, tasks), incumbent, -1))
        assert all(keep[a, incumbent[a]] for a in serving)


def test_window_free_agents_capped_and_ranked_by_the_policy() -> None:
    allowed = np.ones((5, 2), dtype=bool)
    incumbent = np.array([0, -1, -1, -1, -1])  # agent 0 serves task 0, the others are free
    pair_logit = np.array([[0, 0], [3, 3], [2, 2], [1, 1], [0, 0]], dtype=np.float32)
    affinity = np.ones((2, 2), dtype=np.float32)
    for seed in range(6):
        keep, _ = window(pair_logit, allowed, incumbent, affinity, 1, 2, np.random.default_rng(seed))
        (task,) = np.flatnonzero(keep.any(axis=0))
        served = {0} if task == 0 else set()
        assert set(np.flatnonzero(keep.any(axis=1)).tolist()) == served | {1, 2}


def test_task_affinity_is_the_shared_pull_of_the_agents() -> None:
    probabilities = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]], dtype=np.float32)  # last column: unassigned
    assert np.allclose(task_affinity(probabilities), [[0.25, 0.25], [0.25, 0.5]])


def test_windows_improve_the_decoded_allocation_and_stay_feasible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solver_module, "WINDOW_TIME_SHARE", 1.0)  # windows only: no local-search steps
    instance = KIND.parse(generate(7, n_agents=120, n_tasks=40))
    solver = solver_module.LearnedSolver()
    common = {"anneal_chains": 0, "improvement_steps": 0, "neighbourhood_top_k": 0, "seed": 3}
    decoded = solver.solve(instance, LearnedOptions(window_tasks=0, **common), NullProgress(), NeverCancel())
    options = LearnedOptions(window_tasks=6, window_time_limit_s=1, window_stall=4, time_limit_s=6, **common)
    searched = solver.solve(instance, options, NullProgress(), NeverCancel())
    verdict = KIND.check(instance, searched.solution or {})
    assert verdict.feasible and verdict.objective == searched.objective
    assert decoded.objective is not None and searched.objective is not None
    assert searched.objective > decoded.objective
    assert searched.stats["improvement_steps"] == 0
    assert searched.stats["windows"] >= 1 and searched.stats["window_gains"] >= 1
    assert "windows" not in decoded.stats
