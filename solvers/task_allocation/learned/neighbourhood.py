"""The policy's neighbourhood solved exactly: the coalition MILP restricted to the pairs the policy ranks high.

Pairs kept: each agent's ``top_k`` tasks by policy logit (allowed pairs only) and every pair of the
incumbent, which is the start solution of milp's HiGHS back-end, so the result is never worse than the
incumbent. With binaries x_p on kept pairs p = (i, j) and z_j on tasks:

    maximise Σ_j R_j z_j − Σ_p cost_p x_p
    subject to Σ_{p ∋ i} x_p ≤ 1 (each agent),  Σ_{p ∋ j} min(a_ik, q_jk) x_p ≥ q_jk z_j (each needed k)

It proves nothing about the whole instance (pairs outside the neighbourhood are never tried).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from solvers.base import Cancel, NullProgress, SolutionStatus
from solvers.milp.options import HighsOptions
from solvers.milp.schema import MilpModel, VarType
from solvers.task_allocation.allocation import UNASSIGNED, BoolArray, IntArray, release_uncovered
from solvers.task_allocation.learned.network import Array
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
    # each agent at most once
    agent_rows = sp.coo_matrix((np.ones(n_pairs), (agents, np.arange(n_pairs))), shape=(instance.n_agents, n_columns))
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
    n_rows = instance.n_agents + cover_task.size
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
        row_lb=np.concatenate([np.full(instance.n_agents, -np.inf), np.zeros(cover_task.size)]),
        row_ub=np.concatenate([np.ones(instance.n_agents), np.full(cover_task.size, np.inf)]),
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
