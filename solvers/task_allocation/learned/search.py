"""Stage-1 sampling, the repair of a pre-assignment into a feasible allocation, and the local improvement.

* :func:`screen` — stage-1 samples (rows) valued at once by their coalitions as drawn (vectorised: tasks
  whose pool covers them pay, the other pools are released); the return of reinforcement training.
* :func:`decode` — stage 1 pre-assigns every agent to a task or to nothing (argmax or a sample of the
  policy); stage 2 turns each task's pool into a covering coalition: the pool is completed from free
  agents by the ratio greedy (or released when it cannot be), pruned to a minimal coalition, and
  coalitions that lose money are dissolved; open tasks are then filled by the ratio greedy. The result is
  always a feasible allocation in which every assigned agent serves a completed task.
* :func:`improve_once` — one large-neighbourhood step: release the coalitions of a few completed tasks
  (chosen at random), resample the freed agents from the policy restricted to the open tasks, and decode
  again; the caller keeps the result when it is better.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from solvers.task_allocation.allocation import UNASSIGNED, CoalitionBuilder, IntArray, greedy_fill
from solvers.task_allocation.genetic import complete_partial, prune_and_drop
from solvers.task_allocation.schema import Instance, cover_slack

Probabilities = npt.NDArray[np.float32]
#: Rule of the greedy that fills open tasks after a decode: "ratio" (reward / coalition cost) beat "profit" on
#: the development seeds at every size tried (held-out-sized 0.25 % against 0.32 % mean gap; 200 × 50 to
#: 2000 × 400 by 1–10 profit units; docs/benchmarks/task_allocation.md).
FILL_RULE = "ratio"


def sample_choice(probabilities: Probabilities, rng: np.random.Generator | None, temperature: float = 1.0) -> IntArray:
    """Stage 1: a task index per agent, or −1 (column T of ``probabilities`` is "unassigned").

    Argmax when ``rng`` is None, else a sample of the distribution sharpened by ``temperature``.
    """
    n_tasks = probabilities.shape[1] - 1
    if rng is None:
        choice = np.argmax(probabilities, axis=1)
    else:
        weights = np.power(np.maximum(probabilities.astype(np.float64), 1e-300), 1.0 / temperature)
        cumulative = np.cumsum(weights, axis=1)
        draws = rng.random(probabilities.shape[0]) * cumulative[:, -1]
        choice = np.minimum((cumulative < draws[:, None]).sum(axis=1), n_tasks)
    return np.where(choice == n_tasks, UNASSIGNED, choice).astype(np.int64)


def screen(instance: Instance, choices: IntArray) -> npt.NDArray[np.float64]:
    """Profit of each row of ``choices`` (samples × agents) once the pools that do not cover are released."""
    count, n_agents = choices.shape
    n_tasks = instance.n_tasks
    assigned = choices >= 0
    slot = (np.arange(count)[:, None] * n_tasks + choices)[assigned]
    agent = np.broadcast_to(np.arange(n_agents), choices.shape)[assigned]
    supply = np.stack(
        [
            np.bincount(slot, weights=instance.agent_capability[agent, k], minlength=count * n_tasks)
            for k in range(instance.n_capabilities)
        ],
        axis=-1,
    ).reshape(count, n_tasks, instance.n_capabilities)
    need = instance.task_requirement
    covered = np.all(supply >= need - cover_slack(need), axis=2)  # (count, tasks)
    cost = np.bincount(slot, weights=instance.assign_cost[agent, choices[assigned]], minlength=count * n_tasks)
    # a covering pool that loses money is dissolved by the decoder: it earns nothing, costs nothing
    gain = np.where(covered, np.maximum(instance.task_reward[None, :] - cost.reshape(count, n_tasks), 0.0), 0.0)
    return np.asarray(gain.sum(axis=1), dtype=np.float64)


def decode(
    builder: CoalitionBuilder,
    choice: IntArray,
    rng: np.random.Generator,
    noise: float = 0.0,
    should_stop: Callable[[], bool] | None = None,
) -> IntArray:
    """Stage 2: a feasible allocation from the pre-assignment ``choice`` (see the module docstring)."""
    completed = complete_partial(builder, choice, rng, noise)
    pruned = prune_and_drop(builder.instance, completed)
    return greedy_fill(builder, pruned, FILL_RULE, rng=rng if noise > 0 else None, noise=noise, should_stop=should_stop)


def improve_once(
    builder: CoalitionBuilder,
    allocation: IntArray,
    probabilities: Probabilities,
    rng: np.random.Generator,
    temperature: float,
    noise: float,
    should_stop: Callable[[], bool] | None = None,
) -> IntArray:
    """A neighbour of ``allocation``: 1–3 completed tasks released, their agents and the free ones resampled."""
    n_tasks = probabilities.shape[1] - 1
    done = np.unique(allocation[allocation >= 0])
    released = rng.choice(done, size=min(done.size, int(rng.integers(1, 4))), replace=False) if done.size else done
    partial = allocation.copy()
    partial[np.isin(partial, released)] = UNASSIGNED
    free = partial < 0
    open_tasks = np.ones(n_tasks + 1, dtype=bool)
    open_tasks[np.unique(partial[partial >= 0])] = False
    restricted = probabilities[free] * open_tasks[None, :]
    restricted /= np.maximum(restricted.sum(axis=1, keepdims=True), 1e-30)
    choice = partial.copy()
    choice[free] = sample_choice(restricted.astype(np.float32), rng, temperature)
    return decode(builder, choice, rng, noise, should_stop)
