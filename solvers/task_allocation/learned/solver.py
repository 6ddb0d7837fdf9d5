"""The ``learned`` solver: the trained two-stage policy, decoded into feasible allocations and improved.

1. The policy (:mod:`.network`, numpy) gives each agent a distribution over its tasks and "unassigned".
   Features and the policy's pass poll the deadline; if they would take more than
   :data:`POLICY_SHARE` of the time limit, the profit greedy gets the rest instead.
2. Rollouts: the argmax pre-assignment and ``samples`` samples are valued at once by their pools as
   drawn (:func:`.search.screen`); the argmax and the best-valued samples, ``rollouts`` in all, are
   decoded (:func:`.search.decode`) into feasible allocations; the two greedy allocations (profit and
   ratio rules) are candidates too.
3. Improvement (:func:`.search.improve_once`): policy-guided neighbourhood steps from the best
   allocation until ``stall_steps`` steps in a row find nothing better (converged),
   ``improvement_steps``, the time limit or a cancel; then, when ``neighbourhood_top_k`` > 0, the
   coalition MILP on the policy's top pairs (:mod:`.neighbourhood`). Everything stops early when the
   best allocation reaches the fractional upper bound (Σ_j max(0, R_j − cheapest fractional cover)),
   which proves it optimal.
"""

from __future__ import annotations

from collections.abc import Callable
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
from solvers.task_allocation.learned.neighbourhood import neighbourhood, solve_neighbourhood
from solvers.task_allocation.learned.network import Array, OutOfTime, Policy, features
from solvers.task_allocation.learned.options import LearnedOptions
from solvers.task_allocation.learned.search import decode, improve_once, sample_choice, sample_choices, screen
from solvers.task_allocation.schema import Instance

#: Score noise of the repair greedy in sampled rollouts and improvement steps.
REPAIR_NOISE = 0.1
#: Share of the time limit the features and the policy's pass may take before the greedy replaces them.
POLICY_SHARE = 0.6


@cache
def committed_policy() -> Policy:
    """The committed weights, read once per process."""
    return Policy.load()


class LearnedSolver:
    """Trained two-stage policy: screened samples decoded into feasible allocations, then improved."""

    name = "learned"
    Options = LearnedOptions

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else committed_policy()

    def solve(self, instance: Instance, options: LearnedOptions, progress: Progress, cancel: Cancel) -> Result:
        """Decode and improve until converged, out of time or cancelled; the best allocation is returned."""
        deadline = Deadline(options.time_limit_s, cancel)
        rng = np.random.default_rng(options.seed)
        empty = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
        best, best_value = empty, profit(instance, empty)
        progress.incumbent(best_value, to_solution(instance, best))
        stats: dict[str, float | int] = {"rollouts": 0, "improvement_steps": 0}

        def offer(allocation: IntArray) -> bool:
            nonlocal best, best_value
            value = profit(instance, allocation)
            if value > best_value + 1e-9:
                best, best_value = allocation, value
                progress.incumbent(best_value, to_solution(instance, best))
                return True
            return False

        def policy_too_slow() -> bool:
            return deadline.cancelled() or deadline.elapsed() > POLICY_SHARE * options.time_limit_s

        builder = CoalitionBuilder(instance)
        try:
            inputs = features(instance, policy_too_slow)
            pair_logit, none_logit = self.policy.logits(inputs, should_stop=policy_too_slow)
        except OutOfTime:
            stats["policy"] = 0
            offer(greedy_fill(builder, empty, "profit", should_stop=deadline.should_stop))
            return self._result(instance, deadline, best, best_value, stats)
        logits = np.concatenate([pair_logit, none_logit[:, None]], axis=1)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
        bound = inputs.profit_bound

        def finished() -> bool:
            # the bound carries the cover tolerance (about 1e-8 relative), hence the 1e-6 slack
            return deadline.should_stop() or best_value >= bound - 1e-6 * max(1.0, abs(bound))

        argmax = sample_choice(probabilities, None)
        choices = np.vstack([argmax[None, :], sample_choices(probabilities, rng, options.samples, options.temperature)])
        values = screen(instance, choices)
        values[0] = np.inf  # the argmax is always decoded first
        _, first = np.unique(choices, axis=0, return_index=True)
        order = first[np.argsort(-values[first], kind="stable")][: options.rollouts]
        stats["samples"] = options.samples
        for position, row in enumerate(order):
            if finished():
                break
            noise = REPAIR_NOISE if position > 0 else 0.0
            offer(decode(builder, choices[row], rng, noise, should_stop=deadline.should_stop))
            stats["rollouts"] += 1
            if position == 0:  # the two greedy allocations are candidates too
                for rule in ("profit", "ratio"):
                    if not finished():
                        offer(greedy_fill(builder, empty, rule, should_stop=deadline.should_stop))
        stalled = 0
        while (
            stats["improvement_steps"] < options.improvement_steps and stalled < options.stall_steps and not finished()
        ):
            neighbour = improve_once(
                builder, best, probabilities, rng, options.temperature, REPAIR_NOISE, should_stop=deadline.should_stop
            )
            stats["improvement_steps"] += 1
            stalled = 0 if offer(neighbour) else stalled + 1
        if options.neighbourhood_top_k > 0:
            self._neighbourhoods(
                instance, options, deadline, pair_logit, inputs.allowed, lambda: best, offer, finished, stats
            )
        return self._result(instance, deadline, best, best_value, stats)

    @staticmethod
    def _neighbourhoods(
        instance: Instance,
        options: LearnedOptions,
        deadline: Deadline,
        pair_logit: Array,
        allowed: BoolArray,
        incumbent: Callable[[], IntArray],
        offer: Callable[[IntArray], bool],
        finished: Callable[[], bool],
        stats: dict[str, float | int],
    ) -> None:
        """Expanding neighbourhoods within ``neighbourhood_time_limit_s`` in all: each agent's top k tasks, k
        doubled each time HiGHS proves the neighbourhood's best, until k covers every task."""
        ends_at = deadline.elapsed() + options.neighbourhood_time_limit_s
        top_k = options.neighbourhood_top_k
        stats["neighbourhoods"] = 0
        while not finished():
            limit = min(ends_at - deadline.elapsed(), deadline.remaining())
            if limit <= 0:
                break
            keep = neighbourhood(pair_logit, allowed, incumbent(), top_k)
            allocation, proved = solve_neighbourhood(instance, keep, incumbent(), limit, options.seed, deadline.cancel)
            offer(allocation)
            stats["neighbourhoods"] += 1
            stats["neighbourhood_pairs"] = int(keep.sum())
            if not proved or top_k >= instance.n_tasks:
                break
            top_k *= 2

    @staticmethod
    def _result(
        instance: Instance, deadline: Deadline, best: IntArray, best_value: float, stats: dict[str, float | int]
    ) -> Result:
        if deadline.cancelled():
            termination = Termination.cancelled
        elif deadline.remaining() <= 0:
            termination = Termination.time_limit
        else:
            termination = Termination.other
        stats["wall_time_s"] = deadline.elapsed()
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=best_value,
            bound=None,
            solution=to_solution(instance, best),
            stats=stats,
        )
