"""The ``neur2ro`` solver: column-and-constraint generation with a learned second stage (Neur2RO).

1. Start from the nominal selection x⁰; evaluate its worst case exactly (scenario ξ⁰). Out of time
   before that: return the repaired selection, whose worst case is known without cutting planes.
2. Main problem: max_x Σ(p̄ − f)x + min_s Q̂(x, ξˢ) with the value network Q̂ embedded in a MILP
   (:mod:`.embedding`), every selection already evaluated excluded by a no-good cut.
3. Adversarial step: the exact worst case of the proposed x (Kelley cutting planes with the dynamic
   program, warm-started with every reaction seen so far) gives its certified profit and the next
   scenario. Neur2RO maximises the network over ξ here; the exact step is as cheap on this problem
   and the certified profit of x is needed anyway.
4. The loop stops when the network ranks no unevaluated selection above the best certified one
   (both valued by the network under the same scenarios, so its bias cancels), at its share of the
   time limit (``learned_share``) or iteration limit, or on cancel.
5. Search phase: the time left goes to the exact branch-and-price, started from every selection the
   loop certified (the best is its first incumbent, their reactions its first columns). Its answer is
   never worse than the loop's, it gives a proven bound, and it can prove optimality.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.knapsack_2ro.evaluation import (
    EVALUATION_TOLERANCE,
    BoolArray,
    Data,
    Reaction,
    WorstCase,
    evaluate,
    first_stage_profit,
    repaired_selection,
    solution_dict,
)
from solvers.knapsack_2ro.exact import branch_and_price
from solvers.knapsack_2ro.learned.embedding import MainProblem
from solvers.knapsack_2ro.learned.network import ValueNetwork
from solvers.knapsack_2ro.learned.options import Neur2roOptions
from solvers.knapsack_2ro.nominal import nominal_selection
from solvers.knapsack_2ro.options import ExactOptions
from solvers.knapsack_2ro.schema import Instance
from solvers.runtime import Deadline

#: Cutting-plane iterations between two polls of the cancel flag and the clock.
EVALUATION_CHUNK = 8


class ReactionPool:
    """Every second-stage reaction seen so far; they warm-start later exact evaluations.

    A reaction restricted to the items of another selection (drop what is not selected) is still
    feasible for it, so every reaction seen gives a valid starting cut for every later selection.
    """

    def __init__(self) -> None:
        self.reactions: list[Reaction] = []
        self.keys: set[bytes] = set()

    def add(self, reactions: list[Reaction]) -> None:
        """Keep the new ones."""
        for reaction in reactions:
            if reaction.key() not in self.keys:
                self.keys.add(reaction.key())
                self.reactions.append(reaction)

    def restricted_to(self, selected: BoolArray) -> list[Reaction]:
        """Every reaction with the unselected items removed (deduplicated)."""
        out: dict[bytes, Reaction] = {}
        for reaction in self.reactions:
            restricted = Reaction(reaction.produce & selected, reaction.repair & selected)
            out.setdefault(restricted.key(), restricted)
        return list(out.values())


def exact_worst_case(data: Data, selected: BoolArray, pool: ReactionPool, stop: Callable[[], bool]) -> WorstCase | None:
    """The exact worst case of ``selected``, in chunks of cutting planes; None if ``stop()`` first."""
    known = pool.restricted_to(selected)
    while True:
        worst = evaluate(data, selected, known=known, max_iterations=EVALUATION_CHUNK)
        known = worst.reactions
        pool.add(worst.reactions)
        converged = worst.objective - worst.lower <= EVALUATION_TOLERANCE * max(1.0, abs(worst.objective))
        if converged or worst.iterations < EVALUATION_CHUNK:
            return worst
        if stop():
            return None


class Neur2roSolver:
    """Learned heuristic: a trained value network proposes selections, each one certified exactly."""

    name = "neur2ro"
    Options = Neur2roOptions

    def __init__(self, network: ValueNetwork | None = None) -> None:
        self.network = network if network is not None else ValueNetwork.load()

    def predicted_worst_case(self, data: Data, selected: BoolArray, main: MainProblem) -> float:
        """The network's value of a selection under the main problem's scenarios."""
        second_stage = min(self.network.predict(data, selected, xi) for xi in main.scenario_list)
        return first_stage_profit(data, selected) + second_stage

    def solve(self, instance: Instance, options: Neur2roOptions, progress: Progress, cancel: Cancel) -> Result:
        """The learned loop, then branch-and-price from its selections; the objective is the exact worst case."""
        deadline = Deadline(options.time_limit_s, cancel)
        data = Data.of(instance)
        stats: dict[str, float | int] = {"main_problems": 0, "evaluations": 0, "main_time_s": 0.0}
        certified, loop_termination = self.learned_loop(
            data, options, progress, deadline.within(options.learned_share * options.time_limit_s), stats
        )
        stats["learned_time_s"] = deadline.elapsed()
        selected, worst = max(certified, key=lambda pair: pair[1].objective)
        stats["learned_objective"] = worst.objective
        reason = deadline.stop_reason()
        if options.learned_share >= 1.0 or reason is not None:
            stats["wall_time_s"] = deadline.elapsed()
            return Result(
                status=SolutionStatus.feasible,
                termination=reason or loop_termination,
                objective=worst.objective,
                bound=None,
                solution=solution_dict(data, selected, worst),
                stats=stats,
            )
        search_options = ExactOptions(time_limit_s=options.time_limit_s, rel_gap=options.rel_gap)
        search = branch_and_price(data, search_options, progress, deadline, certified)
        stats.update({f"search_{key}": value for key, value in search.stats.items() if key != "wall_time_s"})
        stats["search_time_s"] = deadline.elapsed() - stats["learned_time_s"]
        stats["wall_time_s"] = deadline.elapsed()
        return Result(
            status=search.status,
            termination=search.termination,
            objective=search.objective,
            bound=search.bound,
            solution=search.solution,
            stats=stats,
        )

    def learned_loop(
        self,
        data: Data,
        options: Neur2roOptions,
        progress: Progress,
        deadline: Deadline,
        stats: dict[str, float | int],
    ) -> tuple[list[tuple[BoolArray, WorstCase]], Termination]:
        """Steps 1–4: every selection certified (at least one) and why the loop stopped."""
        pool = ReactionPool()
        first = nominal_selection(data)
        evaluation_started = deadline.elapsed()
        worst = exact_worst_case(data, first, pool, deadline.should_stop)
        last_evaluation_s = deadline.elapsed() - evaluation_started
        stats["evaluations"] = 1
        if worst is None:  # out of time before the first certificate: a selection whose worst case is known
            fallback = repaired_selection(data)
            progress.incumbent(fallback[1].objective, solution_dict(data, *fallback))
            return [fallback], deadline.termination()
        certified = [(first, worst)]
        best = (first, worst)
        progress.incumbent(worst.objective, solution_dict(data, first, worst))
        main = MainProblem(data, self.network)
        main.add_scenario(worst.xi)
        main.exclude(first)
        termination = Termination.other
        while True:
            reason = deadline.stop_reason()
            if reason is not None:
                termination = reason
                break
            remaining = deadline.remaining()
            if stats["main_problems"] >= options.max_iterations:
                termination = Termination.iteration_limit
                break
            # keep time to certify the proposal: 1.5 × the last certification, 30–60 % of what is left
            reserve = min(max(1.5 * last_evaluation_s, 0.3 * remaining), 0.6 * remaining)
            main_limit = min(remaining - reserve, options.main_time_limit_s)
            main_deadline = deadline.within(main_limit)
            proposal = main.solve(main_limit, main_deadline.should_stop, rel_gap=options.main_rel_gap)
            stats["main_problems"] += 1
            stats["main_time_s"] += main_deadline.elapsed()
            if proposal is None:
                termination = deadline.termination()
                break
            if proposal.predicted <= self.predicted_worst_case(data, best[0], main):
                break  # the network ranks no unevaluated selection above the best certified one
            evaluation_started = deadline.elapsed()
            worst = exact_worst_case(data, proposal.selected, pool, deadline.should_stop)
            last_evaluation_s = deadline.elapsed() - evaluation_started
            if worst is None:
                termination = deadline.termination()
                break
            stats["evaluations"] += 1
            certified.append((proposal.selected, worst))
            progress.log(
                f"iteration {stats['main_problems']}: predicted {proposal.predicted:.4f}, "
                f"certified {worst.objective:.4f}, best {max(worst.objective, best[1].objective):.4f}"
            )
            if worst.objective > best[1].objective:
                best = (proposal.selected, worst)
                progress.incumbent(worst.objective, solution_dict(data, proposal.selected, worst))
            main.exclude(proposal.selected)
            if not any(np.allclose(worst.xi, known, atol=1e-9) for known in main.scenario_list):
                main.add_scenario(worst.xi)
        stats["scenarios"] = main.scenarios
        stats["main_binaries"] = main.binaries
        stats["reactions"] = len(pool.reactions)
        return certified, termination
