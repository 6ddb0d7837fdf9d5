"""The ``learned`` solver: the trained two-stage policy, its guided annealing, then improvement.

1. The policy (:mod:`.network`, numpy) gives each agent a distribution over its tasks and "unassigned".
   Features and the policy's pass poll the deadline; if they would take more than
   :data:`POLICY_SHARE` of the time limit, the profit greedy gets the rest instead.
2. Annealing (:mod:`.anneal`, compiled by numba): ``anneal_chains`` chains of
   ``anneal_moves_per_agent`` × agents moves, the first from the policy's argmax pre-assignment, each
   later one from the best allocation so far; the policy draws every move's destination and swap partner.
3. Improvement (:func:`.search.improve_once`, off by default): policy-guided neighbourhood steps from
   the best allocation until ``stall_steps`` steps in a row find nothing better (converged),
   ``improvement_steps``, the time limit or a cancel; then, when ``neighbourhood_top_k`` > 0, the
   coalition MILP on the policy's top pairs (:mod:`.neighbourhood`). Everything stops early when the
   best allocation reaches the fractional upper bound (Σ_j max(0, R_j − cheapest fractional cover)),
   which proves it optimal.
4. Windows, on instances with more than ``window_tasks`` tasks: large-neighbourhood search in which
   HiGHS re-solves one window of the instance at a time (:func:`.neighbourhood.window`), alternating
   with local steps, until the time limit or ``window_stall`` windows in a row without gain.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.task_allocation.allocation import (
    UNASSIGNED,
    BoolArray,
    CoalitionBuilder,
    IntArray,
    greedy_fill,
    profit,
    to_solution,
)
from solvers.task_allocation.learned.anneal import Annealer, settle
from solvers.task_allocation.learned.neighbourhood import (
    neighbourhood,
    solve_neighbourhood,
    task_affinity,
    window,
)
from solvers.task_allocation.learned.network import Array, OutOfTime, Policy, features
from solvers.task_allocation.learned.options import LearnedOptions
from solvers.task_allocation.learned.search import FILL_RULE, Probabilities, improve_once, sample_choice
from solvers.task_allocation.reduction import ReducedModel, reduce_instance
from solvers.task_allocation.schema import Instance

#: Tasks per unit of chain length: a chain has anneal_moves_per_agent × agents moves on instances of up to
#: about this many tasks, proportionally more on larger ones (coalitions across many tasks settle slowly:
#: on 2000 × 400, two chains of 8·10⁶ moves ended 5 % above twenty of 8·10⁵ in the same 5 s).
CHAIN_TASKS = 16
#: Share of the time left after the policy that the annealing may take on instances that have windows.
ANNEAL_TIME_SHARE = 0.6
#: Score noise of the repair greedy in improvement steps.
REPAIR_NOISE = 0.1
#: Share of the time limit the features and the policy's pass may take before the greedy replaces them.
POLICY_SHARE = 0.6
#: Free agents per window task taken into a window (the ones the policy most wants there).
FREE_AGENTS_PER_WINDOW_TASK = 4
#: Smallest window, in tasks.
MIN_WINDOW_TASKS = 4
#: Share of the large-neighbourhood search's time that goes to windows (the rest to local-search steps).
WINDOW_TIME_SHARE = 0.5


class _Search:
    """The best allocation so far (reported as an incumbent when it improves), the bound and the stats."""

    def __init__(self, instance: Instance, progress: Progress, deadline: Deadline) -> None:
        self.instance, self.progress, self.deadline = instance, progress, deadline
        self.best = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
        self.best_value = profit(instance, self.best)
        self.bound = np.inf
        self.stats: dict[str, float | int] = {"anneal_chains": 0, "improvement_steps": 0}
        progress.incumbent(self.best_value, to_solution(instance, self.best))

    def offer(self, allocation: IntArray) -> bool:
        """Keep ``allocation`` when it is better than the best so far; whether it was."""
        value = profit(self.instance, allocation)
        if value <= self.best_value + 1e-9:
            return False
        self.best, self.best_value = allocation, value
        self.progress.incumbent(value, to_solution(self.instance, allocation))
        return True

    def finished(self) -> bool:
        """Out of time, cancelled, or the best allocation reaches the bound (so it is optimal)."""
        # the bound carries the cover tolerance (about 1e-8 relative), hence the 1e-6 slack
        reached = self.best_value >= self.bound - 1e-6 * max(1.0, abs(self.bound))
        return self.deadline.should_stop() or (math.isfinite(self.bound) and reached)

    def result(self) -> Result:
        """The best allocation as the solver's result."""
        if self.deadline.cancelled():
            termination = Termination.cancelled
        elif self.deadline.remaining() <= 0:
            termination = Termination.time_limit
        else:
            termination = Termination.other
        self.stats["wall_time_s"] = self.deadline.elapsed()
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=self.best_value,
            bound=None,
            solution=to_solution(self.instance, self.best),
            stats=self.stats,
        )


def _local_step(
    search: _Search,
    builder: CoalitionBuilder,
    probabilities: Probabilities,
    rng: np.random.Generator,
    options: LearnedOptions,
) -> bool:
    """One policy-guided local-search step from the best allocation (:func:`.search.improve_once`), counted
    in the stats; whether it found a better allocation."""
    neighbour = improve_once(
        builder,
        search.best,
        probabilities,
        rng,
        options.temperature,
        REPAIR_NOISE,
        should_stop=search.deadline.should_stop,
    )
    search.stats["improvement_steps"] += 1
    return search.offer(neighbour)


@cache
def committed_policy() -> Policy:
    """The committed weights, read once per process."""
    return Policy.load()


def preload() -> None:
    """Read the committed weights now (a worker's template calls this once, so that no job reads them)."""
    committed_policy()


class LearnedSolver:
    """Trained two-stage policy: guided annealing from its pre-assignment, then improvement."""

    name = "learned"
    Options = LearnedOptions

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else committed_policy()

    def solve(self, instance: Instance, options: LearnedOptions, progress: Progress, cancel: Cancel) -> Result:
        """Anneal and improve until converged, out of time or cancelled; the best allocation is returned."""
        deadline = Deadline(options.time_limit_s, cancel)
        rng = np.random.default_rng(options.seed)
        empty = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
        search = _Search(instance, progress, deadline)

        def policy_too_slow() -> bool:
            return deadline.cancelled() or deadline.elapsed() > POLICY_SHARE * options.time_limit_s

        builder = CoalitionBuilder(instance)
        try:
            inputs = features(instance, policy_too_slow)
            pair_logit, none_logit = self.policy.logits(inputs, should_stop=policy_too_slow)
        except OutOfTime:
            search.stats["policy"] = 0
            search.offer(greedy_fill(builder, empty, "profit", should_stop=deadline.should_stop))
            return search.result()
        logits = np.concatenate([pair_logit, none_logit[:, None]], axis=1)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
        search.bound = inputs.profit_bound

        start = sample_choice(probabilities, None)  # the argmax pre-assignment
        search.offer(settle(instance, start))
        annealer = Annealer(instance, inputs.allowed, probabilities.astype(np.float64), options.seed)
        moves = options.anneal_moves_per_agent * instance.n_agents * max(1, round(instance.n_tasks / CHAIN_TASKS))
        share = ANNEAL_TIME_SHARE if 0 < options.window_tasks < instance.n_tasks else 1.0
        anneal_ends_at = deadline.elapsed() + share * deadline.remaining()
        search.stats["anneal_moves"] = 0
        for _ in range(options.anneal_chains if inputs.allowed.any() else 0):  # no allowed pair: nothing to move
            seconds = anneal_ends_at - deadline.elapsed()
            if search.finished() or seconds <= 0:
                break
            allocation, done = annealer.chain(start, moves, deadline.should_stop, seconds)
            search.offer(allocation)
            search.stats["anneal_chains"] += 1
            search.stats["anneal_moves"] += done
            start = search.best
        if not search.finished():  # open tasks the free agents can still cover (many, on large instances)
            search.offer(greedy_fill(builder, search.best, FILL_RULE, should_stop=deadline.should_stop))
        stalled = 0
        while (
            search.stats["improvement_steps"] < options.improvement_steps
            and stalled < options.stall_steps
            and not search.finished()
        ):
            stalled = 0 if _local_step(search, builder, probabilities, rng, options) else stalled + 1
        run_windows = 0 < options.window_tasks < instance.n_tasks
        if (options.neighbourhood_top_k > 0 or run_windows) and not search.finished():
            reduced = reduce_instance(instance)
            if options.neighbourhood_top_k > 0:
                self._neighbourhoods(instance, reduced, options, deadline, pair_logit, inputs.allowed, search)
            if run_windows:
                self._windows(
                    instance,
                    reduced,
                    options,
                    deadline,
                    pair_logit,
                    probabilities,
                    inputs.allowed,
                    rng,
                    builder,
                    search,
                )
        return search.result()

    @staticmethod
    def _neighbourhoods(
        instance: Instance,
        reduced: ReducedModel,
        options: LearnedOptions,
        deadline: Deadline,
        pair_logit: Array,
        allowed: BoolArray,
        search: _Search,
    ) -> None:
        """Expanding neighbourhoods within ``neighbourhood_time_limit_s`` in all: each agent's top k tasks, k
        doubled each time HiGHS proves the neighbourhood's best, until k covers every task."""
        ends_at = deadline.elapsed() + options.neighbourhood_time_limit_s
        top_k = options.neighbourhood_top_k
        search.stats["neighbourhoods"] = 0
        while not search.finished():
            limit = min(ends_at - deadline.elapsed(), deadline.remaining())
            if limit <= 0:
                break
            keep = neighbourhood(pair_logit, allowed, search.best, top_k)
            allocation, proved = solve_neighbourhood(
                instance, reduced, keep, search.best, limit, options.seed, deadline.cancel
            )
            search.offer(allocation)
            search.stats["neighbourhoods"] += 1
            search.stats["neighbourhood_pairs"] = int(keep.sum())
            if not proved or top_k >= instance.n_tasks:
                break
            top_k *= 2

    @staticmethod
    def _windows(
        instance: Instance,
        reduced: ReducedModel,
        options: LearnedOptions,
        deadline: Deadline,
        pair_logit: Array,
        probabilities: Probabilities,
        allowed: BoolArray,
        rng: np.random.Generator,
        builder: CoalitionBuilder,
        search: _Search,
    ) -> None:
        """Large-neighbourhood search: windows re-solved by HiGHS (the rest of the incumbent kept), alternating
        with the policy-guided local-search steps (:data:`WINDOW_TIME_SHARE` of the time to windows).

        A window proved within a quarter of its time grows by half; one that runs out of time shrinks by
        a third (not below :data:`MIN_WINDOW_TASKS`). Ends after ``window_stall`` windows in a row without
        a better allocation (from either move), at the time limit or when the bound is reached.
        """
        affinity = task_affinity(probabilities)
        size = options.window_tasks
        search.stats["windows"] = search.stats["window_gains"] = 0
        window_time = step_time = 0.0
        stalled = 0
        while stalled < options.window_stall and not search.finished():
            started = deadline.elapsed()
            if step_time * WINDOW_TIME_SHARE < window_time * (1 - WINDOW_TIME_SHARE):
                if _local_step(search, builder, probabilities, rng, options):
                    stalled = 0
                step_time += deadline.elapsed() - started
                continue
            limit = min(options.window_time_limit_s, deadline.remaining())
            current = search.best
            keep, restricted = window(pair_logit, allowed, current, affinity, size, FREE_AGENTS_PER_WINDOW_TASK, rng)
            allocation, proved = solve_neighbourhood(
                instance, reduced, keep, restricted, limit, options.seed, deadline.cancel
            )
            merged = current.copy()
            agents = np.flatnonzero(keep.any(axis=1))
            merged[agents] = allocation[agents]
            improved = search.offer(merged)
            search.stats["windows"] += 1
            search.stats["window_gains"] += int(improved)
            stalled = 0 if improved else stalled + 1
            window_time += deadline.elapsed() - started
            if proved and deadline.elapsed() - started < limit / 4:
                size = min(instance.n_tasks, size + max(1, size // 2))
            elif not proved:
                size = max(MIN_WINDOW_TASKS, size - max(1, size // 3))
        search.stats["window_tasks"] = size
