"""The ``learned`` solver: the trained two-stage policy, decoded into feasible allocations and improved.

1. The policy (:mod:`.network`, numpy) gives each agent a distribution over its tasks and "unassigned".
2. Rollouts (:func:`.search.decode`): the argmax pre-assignment, then samples, each repaired into a
   feasible allocation; the two greedy allocations (profit and ratio rules) are candidates too, the
   profit one computed first so that even a short time limit returns at least it.
3. Improvement (:func:`.search.improve_once`): policy-guided neighbourhood steps from the best
   allocation until ``improvement_steps``, ``stall_steps`` steps without a better one, the time limit or
   a cancel. The search also stops when the best allocation reaches the fractional upper bound
   (Σ_j max(0, R_j − cheapest fractional cover)), which proves it optimal.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.task_allocation.allocation import UNASSIGNED, CoalitionBuilder, IntArray, greedy_fill, profit, to_solution
from solvers.task_allocation.common import StopWatch
from solvers.task_allocation.learned.neighbourhood import neighbourhood, solve_neighbourhood
from solvers.task_allocation.learned.network import Policy, features
from solvers.task_allocation.learned.options import LearnedOptions
from solvers.task_allocation.learned.search import decode, improve_once, sample_choice
from solvers.task_allocation.model import Instance

#: Score noise of the repair greedy in sampled rollouts and improvement steps.
REPAIR_NOISE = 0.1


@cache
def committed_policy() -> Policy:
    """The committed weights, read once per process."""
    return Policy.load()


class LearnedSolver:
    """Trained two-stage policy: sampled pre-assignments, repaired to feasibility, then improved."""

    name = "learned"
    exact = False
    learned = True
    Options = LearnedOptions

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else committed_policy()

    def solve(self, instance: Instance, options: LearnedOptions, progress: Progress, cancel: Cancel) -> Result:
        """Decode and improve until done, out of time or cancelled; the best allocation is returned."""
        watch = StopWatch(options.time_limit_s, cancel)
        rng = np.random.default_rng(options.seed)
        builder = CoalitionBuilder(instance)
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

        # the profit greedy first: an answer however short the time (the policy's pass comes after)
        offer(greedy_fill(builder, empty, "profit", should_stop=watch.should_stop))
        inputs = features(instance)
        pair_logit, none_logit = self.policy.logits(inputs)
        logits = np.concatenate([pair_logit, none_logit[:, None]], axis=1)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
        bound = inputs.profit_bound

        def finished() -> bool:
            # the bound carries the cover tolerance (about 1e-8 relative), hence the 1e-6 slack
            return watch.should_stop() or best_value >= bound - 1e-6 * max(1.0, abs(bound))

        for rollout in range(options.rollouts):
            if finished():
                break
            sampled = rollout > 0
            choice = sample_choice(probabilities, rng if sampled else None, options.temperature)
            offer(decode(builder, choice, rng, REPAIR_NOISE if sampled else 0.0, should_stop=watch.should_stop))
            stats["rollouts"] += 1
            if rollout == 0 and not finished():
                offer(greedy_fill(builder, empty, "ratio", should_stop=watch.should_stop))
        if options.neighbourhood_top_k > 0 and not finished():
            keep = neighbourhood(pair_logit, inputs.allowed, best, options.neighbourhood_top_k)
            limit = min(options.neighbourhood_time_limit_s, watch.remaining())
            offer(solve_neighbourhood(instance, keep, best, limit, options.seed, watch.cancelled))
            stats["neighbourhood_pairs"] = int(keep.sum())
        stalled = 0
        while (
            stats["improvement_steps"] < options.improvement_steps and stalled < options.stall_steps and not finished()
        ):
            neighbour = improve_once(
                builder, best, probabilities, rng, options.temperature, REPAIR_NOISE, should_stop=watch.should_stop
            )
            stats["improvement_steps"] += 1
            stalled = 0 if offer(neighbour) else stalled + 1
        if watch.cancelled():
            termination = Termination.cancelled
        elif watch.remaining() <= 0:
            termination = Termination.time_limit
        else:
            termination = Termination.other
        stats["wall_time_s"] = watch.elapsed()
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=best_value,
            bound=None,
            solution=to_solution(instance, best),
            stats=stats,
        )
