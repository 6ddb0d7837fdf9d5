"""The policy's neighbourhood solved exactly: the coalition MILP restricted to the pairs the policy ranks high.

Pairs kept: each agent's ``top_k`` tasks by policy logit (allowed pairs only) and every pair of the
incumbent, which is the start solution of milp's HiGHS back-end, so the result is never worse than the
incumbent. With binaries x_p on kept pairs p = (i, j) and z_j on tasks:

    maximise Σ_j R_j z_j − Σ_p cost_p x_p
    subject to Σ_{p ∋ i} x_p ≤ 1 (each agent),  Σ_{p ∋ j} min(a_ik, q_jk) x_p ≥ q_jk z_j (each needed k)

It proves nothing about the whole instance (pairs outside the neighbourhood are never tried).

On instances larger than a window, :func:`window` picks a part of the instance to re-solve the same way
(large-neighbourhood search): a random seed task, the tasks the policy relates to it most, the agents on
those tasks and the free agents the policy most wants there; everything outside the window stays as in the
incumbent, so the merged allocation is never worse than it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from solvers.base import Cancel, NullProgress, SolutionStatus
from solvers.milp.options import HighsOptions
from solvers.milp.schema import MilpModel, VarType
from solvers.task_allocation.allocation import UNASSIGNED, BoolArray, IntArray, release_uncovered
from solvers.task_allocation.learned.network import NEGATIVE, Array
from solvers.task_allocation.schema import Instance


def neighbourhood(pair_logit: Array, allowed: BoolArray, incumbent: IntArray, top_k: int) -> BoolArray:
    """Kept pairs: each agent's ``top_k`` allowed tasks by logit, plus the incumbent's pairs."""
    keep = np.zeros_like(allowed)
    if allowed.shape[1]:
        k = min(top_k, allowed.shape[1])
        top = np.argpartition(-pair_logit, k - 1, axis=1)[:, :k]
        np.put_along_axis(keep, top, True, axis=1)
    keep &= allowed
    assigned = np.flatnonzero(incumbent >= 0)
    keep[assigned, incumbent[assigned]] = True
    return keep


def task_affinity(probabilities: Array) -> Array:
    """(tasks, tasks): how much the policy's agents are drawn to both tasks (Σ_i p_ij p_ik)."""
    share = probabilities[:, :-1]
    return np.asarray(share.T @ share, dtype=np.float32)


def window(
    pair_logit: Array,
    allowed: BoolArray,
    incumbent: IntArray,
    affinity: Array,
    n_window_tasks: int,
    free_agents_per_task: int,
    rng: np.random.Generator,
) -> tuple[BoolArray, IntArray]:
    """A window of the instance: its pairs (agents on or wanted by the window's tasks × those tasks, allowed
    only) and the incumbent restricted to them (−1 elsewhere).

    Tasks: a uniformly drawn seed task and the ``n_window_tasks`` − 1 tasks of highest affinity to it (ties
    and near-ties broken at random). Agents: those the incumbent puts on these tasks, and up to
    ``free_agents_per_task`` × tasks free agents with the highest logit for one of them.
    """
    n_agents, n_tasks = allowed.shape
    keep = np.zeros_like(allowed)
    if n_tasks == 0:
        return keep, np.full(n_agents, UNASSIGNED, dtype=np.int64)
    seed_task = int(rng.integers(n_tasks))
    closeness = affinity[seed_task] * rng.uniform(0.75, 1.25, size=n_tasks)
    closeness[seed_task] = np.inf
    tasks = np.argsort(-closeness, kind="stable")[: min(n_window_tasks, n_tasks)]
    in_window = np.zeros(n_tasks, dtype=bool)
    in_window[tasks] = True
    serving = (incumbent >= 0) & in_window[np.maximum(incumbent, 0)]
    wanted = np.where(allowed[:, tasks], pair_logit[:, tasks], NEGATIVE).max(axis=1)
    candidates = np.flatnonzero((incumbent < 0) & allowed[:, tasks].any(axis=1))
    count = min(candidates.size, free_agents_per_task * tasks.size)
    free = candidates[np.argsort(-wanted[candidates], kind="stable")[:count]]
    agents = np.concatenate([np.flatnonzero(serving), free])
    keep[np.ix_(agents, tasks)] = allowed[np.ix_(agents, tasks)]
    restricted = np.where(serving, incumbent, UNASSIGNED)
    keep[np.flatnonzero(serving), incumbent[serving]] = True
    return keep, restricted


def solve_neighbourhood(
    instance: Instance,
    keep: BoolArray,
    incumbent: IntArray,
    time_limit_s: float,
    seed: int,
    cancel: Cancel,
) -> tuple[IntArray, bool]:
    """The best allocation milp's HiGHS back-end finds on the kept pairs within the time limit (at least the
    incumbent), and whether it is proven the best of the neighbourhood."""
    from solvers.milp.highs import HighsSolver

    agents, tasks = np.nonzero(keep)
    n_pairs = agents.size
    needed = instance.task_requirement > 0
    modelled = np.flatnonzero(needed.any(axis=1) & np.isin(np.arange(instance.n_tasks), tasks))
    if n_pairs == 0 or modelled.size == 0:
        return incumbent, True
    position = np.full(instance.n_tasks, -1, dtype=np.int64)
    position[modelled] = np.arange(modelled.size)
    n_columns = n_pairs + modelled.size
    # each agent at most once (one row per agent that has a kept pair)
    used_agents, agent_row = np.unique(agents, return_inverse=True)
    agent_rows = sp.coo_matrix((np.ones(n_pairs), (agent_row, np.arange(n_pairs))), shape=(used_agents.size, n_columns))
    # coverage: Σ min(a_ik, q_jk) x_p − q_jk z_j ≥ 0
    cover_task, cover_capability = np.nonzero(needed[modelled])
    row_of = np.full((modelled.size, instance.n_capabilities), -1, dtype=np.int64)
    row_of[cover_task, cover_capability] = np.arange(cover_task.size)
    pair_position = position[tasks]
    rows_list, cols_list, vals_list = [], [], []
    for k in range(instance.n_capabilities):
        rows = row_of[pair_position, k]
        coefficient = np.minimum(instance.agent_capability[agents, k], instance.task_requirement[tasks, k])
        use = (pair_position >= 0) & (rows >= 0) & (coefficient > 0)
        rows_list.append(rows[use])
        cols_list.append(np.flatnonzero(use))
        vals_list.append(coefficient[use])
    rows_list.append(np.arange(cover_task.size))
    cols_list.append(n_pairs + cover_task)
    vals_list.append(-instance.task_requirement[modelled[cover_task], cover_capability])
    cover_rows = sp.coo_matrix(
        (np.concatenate(vals_list), (np.concatenate(rows_list), np.concatenate(cols_list))),
        shape=(cover_task.size, n_columns),
    )
    n_rows = used_agents.size + cover_task.size
    model = MilpModel(
        name="task_allocation_neighbourhood",
        sense="maximize",
        objective_offset=0.0,
        var_names=[f"x{p}" for p in range(n_pairs)] + [f"z{j}" for j in modelled],
        var_types=np.full(n_columns, VarType.integer, dtype=np.int8),
        lb=np.zeros(n_columns),
        ub=np.ones(n_columns),
        obj=np.concatenate([-instance.assign_cost[agents, tasks], instance.task_reward[modelled]]),
        row_names=[f"r{r}" for r in range(n_rows)],
        matrix=sp.vstack([agent_rows, cover_rows]).tocsr(),
        row_lb=np.concatenate([np.full(used_agents.size, -np.inf), np.zeros(cover_task.size)]),
        row_ub=np.concatenate([np.ones(used_agents.size), np.full(cover_task.size, np.inf)]),
    )
    start = np.zeros(n_columns)
    start[:n_pairs] = incumbent[agents] == tasks
    covered = np.zeros(instance.n_tasks, dtype=bool)
    covered[np.unique(incumbent[incumbent >= 0])] = True
    start[n_pairs:] = covered[modelled]
    options = HighsOptions(time_limit_s=max(time_limit_s, 0.001), seed=seed, threads=1)
    result = HighsSolver().solve(model, options, NullProgress(), cancel, start)
    if result.solution is None:
        return incumbent, False
    column_values = np.fromiter(result.solution["values"].values(), dtype=np.float64, count=n_columns)
    values = np.round(column_values[:n_pairs]) > 0.5
    allocation = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
    allocation[agents[values]] = tasks[values]
    return release_uncovered(instance, allocation), result.status == SolutionStatus.optimal
