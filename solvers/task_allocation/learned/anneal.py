"""Policy-guided simulated annealing over allocations, compiled by numba.

The state is a pool per agent: a task or "unassigned". A move either sends one agent to another pool or
swaps two agents' pools; the destination is drawn from the policy's distribution over the agent's allowed
tasks and "unassigned" (mixed with a uniform share :data:`UNIFORM_SHARE`), and a swap partner is drawn
from the pool the policy sends the agent to — so the search spends its moves where the policy expects
the optimum. A move is scored on a surrogate of the profit: a covered pool is worth max(0, reward − its
cost) (a covering pool that loses money would be released), an uncovered one ``partial_credit`` × (reward
× the share of its requirement met − its cost), which leads the search to build coalitions whose reward
only comes when they are complete. Moves are accepted by the Metropolis rule under a temperature falling
geometrically over a chain; each chain restarts from the best pools found so far, and the best are kept
by their true worth (covered pools only).

Why numba: a solve makes some hundreds of thousands of moves (20 chains of 25,000 on 50 agents) within 10–20
ms (30–80 ns a move here), which neither a Python loop nor numpy's whole-array operations reach; the loop is
compiled when this module is imported (so a worker's template process compiles it before any job arrives)
and cached on disk for the next process (beside this file, in NUMBA_CACHE_DIR, or in numba's user cache;
with none of them writable, every process compiles it, a few seconds). Its random numbers come from its own
xorshift generator, seeded per solve, so a solve is reproducible and independent of any other thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from solvers.task_allocation.allocation import UNASSIGNED, BoolArray, IntArray, release_uncovered
from solvers.task_allocation.schema import FloatArray, Instance, cover_slack

UIntArray = npt.NDArray[np.uint64]

#: Share of a move's destination drawn uniformly from the agent's options instead of from the policy.
UNIFORM_SHARE = 0.1
#: Share of moves that swap two agents (the rest move one agent).
SWAP_SHARE = 0.4
#: First and last temperature of a chain, as shares of the median cost of an allowed (agent, task) pair.
START_TEMPERATURE = 0.3
END_TEMPERATURE = 0.01
#: Weight of an uncovered pool's partial worth in the surrogate.
PARTIAL_CREDIT = 0.3
#: Most moves per call of the compiled loop: between calls the solve's deadline and cancel are polled.
MOVES_PER_CALL = 50_000

_MULTIPLIER = np.uint64(2685821657736338717)


def _compiled(signature: str, function: Callable[..., Any]) -> Any:
    """``function`` compiled by numba for ``signature`` now, its machine code cached on disk for the next
    process; where numba finds no writable cache folder (it raises "no locator available"), compiled
    without the disk cache rather than not at all."""
    try:
        return numba.njit(signature, cache=True)(function)
    except RuntimeError:
        return numba.njit(signature)(function)


def _next_uniform(rng: UIntArray) -> float:
    """xorshift64*: the next number in [0, 1) of the generator whose state is ``rng[0]``."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * _MULTIPLIER) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


_uniform = _compiled("float64(uint64[::1])", _next_uniform)


def _pool_worth(
    task: int,
    leaving: int,
    joining: int,
    supply: FloatArray,
    cost_sum: FloatArray,
    capability: FloatArray,
    threshold: FloatArray,
    requirement: FloatArray,
    requirement_sum: FloatArray,
    reward: FloatArray,
    cost: FloatArray,
    partial_credit: float,
) -> tuple[float, float]:
    """(true worth, surrogate worth) of pool ``task`` once agent ``leaving`` left and ``joining`` joined
    (−1: nobody)."""
    covered = True
    met = 0.0
    for k in range(capability.shape[1]):
        value = supply[task, k]
        if leaving >= 0:
            value -= capability[leaving, k]
        if joining >= 0:
            value += capability[joining, k]
        if value < threshold[task, k]:
            covered = False
        met += min(value, requirement[task, k])
    spent = cost_sum[task]
    if leaving >= 0:
        spent -= cost[leaving, task]
    if joining >= 0:
        spent += cost[joining, task]
    if covered:
        worth = max(0.0, reward[task] - spent)
        return worth, worth
    return 0.0, partial_credit * (reward[task] * met / requirement_sum[task] - spent)


_worth = _compiled(
    "UniTuple(float64, 2)(int64, int64, int64, float64[:, ::1], float64[::1], float64[:, ::1], float64[:, ::1], "
    "float64[:, ::1], float64[::1], float64[::1], float64[:, ::1], float64)",
    _pool_worth,
)


def _anneal_moves(
    capability: FloatArray,
    threshold: FloatArray,
    requirement: FloatArray,
    requirement_sum: FloatArray,
    reward: FloatArray,
    cost: FloatArray,
    options: IntArray,
    option_count: IntArray,
    cumulative: FloatArray,
    pool: IntArray,
    best_pool: IntArray,
    scalars: FloatArray,
    rng: UIntArray,
    moves: int,
    cooling: float,
    partial_credit: float,
    swap_share: float,
) -> None:
    """``moves`` annealing moves from ``pool`` (updated in place); ``best_pool`` and ``scalars`` =
    [temperature, best true worth] carry over between calls (a best worth of −∞: ``pool`` is the start)."""
    n_agents, n_capabilities = capability.shape
    n_tasks = threshold.shape[0]
    unassigned = n_tasks  # the pool index of "unassigned" in the member lists
    supply = np.zeros((n_tasks, n_capabilities))
    cost_sum = np.zeros(n_tasks)
    members = np.empty((n_tasks + 1, n_agents), np.int64)
    count = np.zeros(n_tasks + 1, np.int64)
    position = np.empty(n_agents, np.int64)
    for agent in range(n_agents):
        task = pool[agent]
        slot = task if task >= 0 else unassigned
        members[slot, count[slot]] = agent
        position[agent] = count[slot]
        count[slot] += 1
        if task >= 0:
            for k in range(n_capabilities):
                supply[task, k] += capability[agent, k]
            cost_sum[task] += cost[agent, task]
    true_worth = np.zeros(n_tasks)
    surrogate = np.zeros(n_tasks)
    total = 0.0
    for task in range(n_tasks):
        true_worth[task], surrogate[task] = _worth(
            task, -1, -1, supply, cost_sum, capability, threshold, requirement, requirement_sum, reward, cost,
            partial_credit,
        )  # fmt: skip
        total += true_worth[task]
    temperature, best = scalars[0], scalars[1]
    if total > best:  # the chain's start (first call)
        best = total
        best_pool[:] = pool
    for _ in range(moves):
        temperature *= cooling
        agent = int(_uniform(rng) * n_agents)
        draw = _uniform(rng)
        choice = 0
        while choice < option_count[agent] - 1 and cumulative[agent, choice] < draw:
            choice += 1
        destination = options[agent, choice]
        source = pool[agent]
        if destination == source:
            continue
        partner = -1
        if _uniform(rng) < swap_share:
            slot = destination if destination >= 0 else unassigned
            if count[slot] == 0:
                continue
            partner = members[slot, int(_uniform(rng) * count[slot])]
            if source >= 0:  # the partner must be allowed in the agent's pool
                allowed = False
                for other in range(1, option_count[partner]):
                    if options[partner, other] == source:
                        allowed = True
                        break
                if not allowed:
                    continue
        change = 0.0
        gain = 0.0
        source_true = source_surrogate = destination_true = destination_surrogate = 0.0
        if source >= 0:
            source_true, source_surrogate = _worth(
                source, agent, partner, supply, cost_sum, capability, threshold, requirement, requirement_sum,
                reward, cost, partial_credit,
            )  # fmt: skip
            change += source_surrogate - surrogate[source]
            gain += source_true - true_worth[source]
        if destination >= 0:
            destination_true, destination_surrogate = _worth(
                destination, partner, agent, supply, cost_sum, capability, threshold, requirement,
                requirement_sum, reward, cost, partial_credit,
            )  # fmt: skip
            change += destination_surrogate - surrogate[destination]
            gain += destination_true - true_worth[destination]
        if change < 0 and _uniform(rng) >= np.exp(change / temperature):
            continue
        if source >= 0:
            for k in range(n_capabilities):
                supply[source, k] -= capability[agent, k]
            cost_sum[source] -= cost[agent, source]
            if partner >= 0:
                for k in range(n_capabilities):
                    supply[source, k] += capability[partner, k]
                cost_sum[source] += cost[partner, source]
            true_worth[source], surrogate[source] = source_true, source_surrogate
        if destination >= 0:
            for k in range(n_capabilities):
                supply[destination, k] += capability[agent, k]
            cost_sum[destination] += cost[agent, destination]
            if partner >= 0:
                for k in range(n_capabilities):
                    supply[destination, k] -= capability[partner, k]
                cost_sum[destination] -= cost[partner, destination]
            true_worth[destination], surrogate[destination] = destination_true, destination_surrogate
        source_slot = source if source >= 0 else unassigned
        destination_slot = destination if destination >= 0 else unassigned
        if partner >= 0:  # the two agents trade places in the member lists
            members[source_slot, position[agent]] = partner
            members[destination_slot, position[partner]] = agent
            position[agent], position[partner] = position[partner], position[agent]
            pool[partner] = source
        else:
            last = members[source_slot, count[source_slot] - 1]
            members[source_slot, position[agent]] = last
            position[last] = position[agent]
            count[source_slot] -= 1
            members[destination_slot, count[destination_slot]] = agent
            position[agent] = count[destination_slot]
            count[destination_slot] += 1
        pool[agent] = destination
        total += gain
        if total > best + 1e-9:
            best = total
            best_pool[:] = pool
    scalars[0], scalars[1] = temperature, best


_anneal = _compiled(
    "void(float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], float64[:, ::1], "
    "int64[:, ::1], int64[::1], float64[:, ::1], int64[::1], int64[::1], float64[::1], uint64[::1], int64, "
    "float64, float64, float64)",
    _anneal_moves,
)


def settle(instance: Instance, pools: IntArray) -> IntArray:
    """The allocation of ``pools``: agents of pools that do not cover their task, or lose money, unassigned."""
    allocation = release_uncovered(instance, pools)
    assigned = np.flatnonzero(allocation >= 0)
    spent = np.bincount(
        allocation[assigned], weights=instance.assign_cost[assigned, allocation[assigned]], minlength=instance.n_tasks
    )
    losing = instance.task_reward - spent <= 0
    allocation[assigned[losing[allocation[assigned]]]] = UNASSIGNED
    return allocation


class Annealer:
    """Annealing chains on one instance, guided by the policy's probabilities (agents × (tasks + 1), the last
    column "unassigned")."""

    def __init__(self, instance: Instance, allowed: BoolArray, probabilities: FloatArray, seed: int) -> None:
        n_agents, n_tasks = allowed.shape
        self.instance = instance
        self.capability = np.ascontiguousarray(instance.agent_capability, dtype=np.float64)
        requirement = np.ascontiguousarray(instance.task_requirement, dtype=np.float64)
        self.requirement = requirement
        self.threshold = np.ascontiguousarray(requirement - cover_slack(requirement))
        self.requirement_sum = np.maximum(requirement.sum(axis=1), 1e-12)
        self.reward = np.ascontiguousarray(instance.task_reward, dtype=np.float64)
        self.cost = np.ascontiguousarray(instance.assign_cost, dtype=np.float64)
        # the options of agent i: "unassigned" (−1) first, then its allowed tasks; their cumulative
        # proposal probabilities: the policy's (renormalised over the options) mixed with uniform
        self.options = np.full((n_agents, n_tasks + 1), UNASSIGNED, dtype=np.int64)
        self.option_count = 1 + allowed.sum(axis=1).astype(np.int64)
        self.cumulative = np.ones((n_agents, n_tasks + 1))
        for agent in range(n_agents):
            tasks = np.flatnonzero(allowed[agent])
            self.options[agent, 1 : 1 + tasks.size] = tasks
            weights = np.concatenate([[probabilities[agent, n_tasks]], probabilities[agent, tasks]]).astype(np.float64)
            weights = weights / max(float(weights.sum()), 1e-300)
            weights = (1 - UNIFORM_SHARE) * weights + UNIFORM_SHARE / (tasks.size + 1)
            self.cumulative[agent, : tasks.size + 1] = np.cumsum(weights)
        # the temperature's unit: the median positive cost of an allowed pair (else a tenth of the mean reward)
        costs = self.cost[allowed]
        positive_costs, positive_rewards = costs[costs > 0], self.reward[self.reward > 0]
        if positive_costs.size:
            self.scale = float(np.median(positive_costs))
        else:
            self.scale = 0.1 * float(positive_rewards.mean()) if positive_rewards.size else 1.0
        self.rng = np.array([_splitmix(seed)], dtype=np.uint64)

    def chain(
        self,
        start: IntArray,
        moves: int,
        should_stop: Callable[[], bool],
        seconds: float = math.inf,
    ) -> tuple[IntArray, int]:
        """One chain of ``moves`` moves from the pools ``start``: the best pools it saw (``start`` itself when
        nothing was better) settled into an allocation, and the moves made.

        When the chain would take longer than ``seconds`` at the pace of its first moves, it is shortened to
        fit and cools over what is left, so that it still ends cold; it stops at once when ``should_stop``
        says so.
        """
        pool = np.ascontiguousarray(start, dtype=np.int64).copy()
        best_pool = pool.copy()
        end_temperature = END_TEMPERATURE * self.scale
        scalars = np.array([START_TEMPERATURE * self.scale, -np.inf])
        cooling = (END_TEMPERATURE / START_TEMPERATURE) ** (1.0 / max(moves, 1))
        started = time.perf_counter()
        done = 0
        while done < moves and not should_stop():
            batch = min(moves - done, MOVES_PER_CALL)
            _anneal(
                self.capability,
                self.threshold,
                self.requirement,
                self.requirement_sum,
                self.reward,
                self.cost,
                self.options,
                self.option_count,
                self.cumulative,
                pool,
                best_pool,
                scalars,
                self.rng,
                batch,
                cooling,
                PARTIAL_CREDIT,
                SWAP_SHARE,
            )
            done += batch
            pace = max(time.perf_counter() - started, 1e-9) / done
            affordable = int(seconds / pace) if math.isfinite(seconds) else moves
            if affordable < moves:  # too slow for its time: cool over the moves it can still afford
                moves = max(affordable, done)
                if moves > done:
                    cooling = (end_temperature / scalars[0]) ** (1.0 / (moves - done))
        return settle(self.instance, best_pool), done


def _splitmix(seed: int) -> int:
    """A non-zero 64-bit generator state from ``seed`` (splitmix64)."""
    mask = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) or 1
