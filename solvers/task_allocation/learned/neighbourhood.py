"""The policy's neighbourhood solved exactly: the coalition MILP restricted to the pairs the policy ranks high.

Pairs kept: each agent's ``top_k`` tasks by policy logit (allowed pairs only) and every pair of the
incumbent, which is the start solution of milp's HiGHS back-end, so the result is never worse than the
incumbent. The model is ``exact``'s coalition model (:func:`solvers.task_allocation.exact.coalition_model`:
identical agents merged into classes c with integer counts y_cj, completion binaries z_j) with only the kept
pairs as columns:

    maximise Σ_j R_j z_j − Σ_cj cost_cj y_cj
    subject to Σ_j y_cj ≤ n_c (each class),  Σ_c min(a_ck, q_jk) y_cj ≥ q'_jk z_j (each needed k)

HiGHS does not branch over the symmetry of identical agents: on 100 development instances (sizes up to
50 × 15) the same neighbourhoods over one binary per agent and task reached a mean gap of 0.33 % in 0.44 s,
the class model 0.17–0.26 % (two runs) in 0.41 s (``bench/task_allocation.py --suite development``,
docs/benchmarks/task_allocation.md).

It proves nothing about the whole instance (pairs outside the neighbourhood are never tried).

On instances larger than a window, :func:`window` picks a part of the instance to re-solve the same way
(large-neighbourhood search): a random seed task, the tasks the policy relates to it most, the agents on
those tasks and the free agents the policy most wants there; everything outside the window stays as in the
incumbent, so the merged allocation is never worse than it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from solvers.base import Cancel, NullProgress, SolutionStatus
from solvers.milp.options import HighsOptions
from solvers.task_allocation.allocation import UNASSIGNED, BoolArray, IntArray, release_uncovered
from solvers.task_allocation.exact import coalition_model
from solvers.task_allocation.learned.network import NEGATIVE, Array
from solvers.task_allocation.reduction import ReducedModel
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


def within_pairs(reduced: ReducedModel, keep: BoolArray) -> ReducedModel:
    """``reduced`` (exact's class model of the whole instance) cut down to the kept pairs: each class keeps only
    its members that have a kept pair, and a (class, task) pair stays when one of those members has it kept."""
    n_agents = keep.shape[0]
    class_of_agent = np.full(n_agents, -1, dtype=np.int64)
    for c, members in enumerate(reduced.classes):
        class_of_agent[members] = c
    position = np.full(keep.shape[1], -1, dtype=np.int64)
    position[reduced.tasks] = np.arange(reduced.tasks.size)
    agents, tasks = np.nonzero(keep)
    modelled = (class_of_agent[agents] >= 0) & (position[tasks] >= 0)
    kept_by_class = np.zeros((len(reduced.classes), reduced.tasks.size), dtype=bool)
    kept_by_class[class_of_agent[agents[modelled]], position[tasks[modelled]]] = True
    kept_pairs = kept_by_class[reduced.pair_class, reduced.pair_task]
    has_pair: BoolArray = np.asarray(keep.any(axis=1))
    members_kept = [members[has_pair[members]] for members in reduced.classes]
    sizes = np.array([members.size for members in members_kept], dtype=np.int64)
    used = np.flatnonzero(sizes > 0)
    new_class = np.full(len(reduced.classes), -1, dtype=np.int64)
    new_class[used] = np.arange(used.size)
    pair_class = reduced.pair_class[kept_pairs]
    return replace(
        reduced,
        classes=[members_kept[c] for c in used],
        class_capability=reduced.class_capability[used],
        pair_class=new_class[pair_class],
        pair_task=reduced.pair_task[kept_pairs],
        pair_cost=reduced.pair_cost[kept_pairs],
        pair_upper=np.minimum(reduced.pair_upper[kept_pairs], sizes[pair_class]),
    )


def solve_neighbourhood(
    instance: Instance,
    reduced: ReducedModel,
    keep: BoolArray,
    incumbent: IntArray,
    time_limit_s: float,
    seed: int,
    cancel: Cancel,
) -> tuple[IntArray, bool]:
    """The best allocation milp's HiGHS back-end finds on the kept pairs within the time limit (at least the
    incumbent, when the incumbent's pairs are kept), and whether it is proven the best of the neighbourhood.

    The model is ``exact``'s coalition model (identical agents merged into classes with integer counts, so
    HiGHS does not branch over their symmetry) restricted by :func:`within_pairs`; ``incumbent`` (−1 for
    agents outside the neighbourhood) is its start solution.
    """
    from solvers.milp.highs import HighsSolver

    local = within_pairs(reduced, keep)
    if local.pair_class.size == 0:
        return incumbent, True
    counts, completed = local.class_counts(incumbent)
    start = np.concatenate([counts, completed]).astype(np.float64)
    options = HighsOptions(time_limit_s=max(time_limit_s, 0.001), seed=seed, threads=1)
    result = HighsSolver().solve(coalition_model(local, None), options, NullProgress(), cancel, start)
    if result.solution is None:
        return incumbent, False
    values = np.fromiter(result.solution["values"].values(), dtype=np.float64)[: local.pair_class.size]
    allocation = local.allocation(instance.n_agents, np.round(values).astype(np.int64))
    return release_uncovered(instance, allocation), result.status == SolutionStatus.optimal
