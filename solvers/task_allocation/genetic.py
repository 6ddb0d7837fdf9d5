"""The ``genetic`` solver: a generational, seedable genetic algorithm over agent-to-task assignments.

Encoding: one gene per agent, the index of the task it serves or −1. Every child is repaired to a
feasible, sensible allocation: each uncovered task's agents are completed into a covering coalition
by free agents (or released), each coalition is pruned to a minimal one (dearest redundant member
first), coalitions that lose money are dissolved, and open tasks are filled by the randomised ratio
greedy. Crossover keeps whole coalitions (a random half of one parent's, then every non-conflicting
one of the other's); mutation dissolves a coalition, moves an agent, or swaps two agents. Parents are
picked by tournament; the best ``elite`` survive unchanged.
"""

from __future__ import annotations

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.task_allocation.allocation import (
    UNASSIGNED,
    CoalitionBuilder,
    IntArray,
    covered_tasks,
    greedy_fill,
    profit,
    release_uncovered,
    to_solution,
)
from solvers.task_allocation.options import GeneticOptions
from solvers.task_allocation.schema import Instance, cover_slack

#: Score noise of the randomised greedy that builds the initial population.
INITIAL_NOISE = 0.3
#: Largest score noise of a repair (each child draws its noise from [0, REPAIR_NOISE]).
REPAIR_NOISE = 0.5
#: Share of the time limit spent building the initial population (the first generations fill it up).
INITIAL_SHARE = 0.25


def complete_partial(
    builder: CoalitionBuilder, task_of_agent: IntArray, rng: np.random.Generator, noise: float
) -> IntArray:
    """A copy where each uncovered task's agents are completed by free agents into a covering coalition
    (randomised ratio greedy), or released when that fails."""
    instance = builder.instance
    result = task_of_agent.copy()
    covered = covered_tasks(instance, result)
    for task in rng.permutation(np.unique(result[result >= 0])):
        if covered[task]:
            continue
        members = np.flatnonzero(result == task)
        result[members] = UNASSIGNED
        built = builder.build(int(task), result < 0, rng, noise, members=members)
        if built is not None:
            result[built[0]] = task
    return result


def prune_and_drop(instance: Instance, task_of_agent: IntArray) -> IntArray:
    """A copy where every coalition is minimal and no coalition costs at least its task's reward."""
    result = release_uncovered(instance, task_of_agent)
    for task in np.unique(result[result >= 0]):
        members = np.flatnonzero(result == task)
        need = instance.task_requirement[task]
        supply = instance.agent_capability[members].sum(axis=0)
        cost = instance.assign_cost[members, task]
        for position in np.argsort(-cost, kind="stable"):
            without = supply - instance.agent_capability[members[position]]
            if np.all(without >= need - cover_slack(need)):
                result[members[position]] = UNASSIGNED
                supply = without
        kept = result == task
        if instance.assign_cost[kept, task].sum() >= instance.task_reward[task]:
            result[kept] = UNASSIGNED
    return result


class GeneticSolver:
    """Genetic algorithm baseline: repair to feasibility, coalition crossover, three mutations, elitism."""

    name = "genetic"
    Options = GeneticOptions

    def solve(self, instance: Instance, options: GeneticOptions, progress: Progress, cancel: Cancel) -> Result:
        """Evolve allocations until the time, generation or stall limit, or cancellation."""
        deadline = Deadline(options.time_limit_s, cancel)
        rng = np.random.default_rng(options.seed)
        builder = CoalitionBuilder(instance)
        empty = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)

        def repair(genes: IntArray, noise: float) -> IntArray:
            completed = complete_partial(builder, genes, rng, noise)
            return greedy_fill(
                builder, prune_and_drop(instance, completed), rng=rng, noise=noise, should_stop=deadline.should_stop
            )

        population: list[IntArray] = []
        fitness: list[float] = []
        best, best_value = empty, profit(instance, empty)
        progress.incumbent(best_value, to_solution(instance, best))

        def admit(individual: IntArray) -> None:
            nonlocal best, best_value
            value = profit(instance, individual)
            population.append(individual)
            fitness.append(value)
            if value > best_value + 1e-9:
                best, best_value = individual, value
                progress.incumbent(best_value, to_solution(instance, best))

        for rule in ("profit", "ratio"):
            if not deadline.should_stop():
                admit(greedy_fill(builder, empty, rule, should_stop=deadline.should_stop))
        initial_deadline = INITIAL_SHARE * options.time_limit_s
        while len(population) < options.population_size and deadline.elapsed() < initial_deadline:
            if deadline.should_stop():
                break
            admit(greedy_fill(builder, empty, rng=rng, noise=INITIAL_NOISE, should_stop=deadline.should_stop))

        generations = stalled = 0
        while population and not deadline.should_stop() and stalled < options.stall_generations:
            if options.max_generations is not None and generations >= options.max_generations:
                break
            before = best_value
            order = np.argsort(fitness)[::-1]
            parents, parent_fitness = [population[i] for i in order], [fitness[i] for i in order]
            population, fitness = [], []
            for index in range(min(options.elite, len(parents))):
                population.append(parents[index])
                fitness.append(parent_fitness[index])
            while len(population) < options.population_size and not deadline.should_stop():
                first = self._tournament(parent_fitness, options.tournament_size, rng)
                child = parents[first]
                if rng.random() < options.crossover_rate:
                    second = self._tournament(parent_fitness, options.tournament_size, rng)
                    child = self._crossover(parents[first], parents[second], rng)
                if rng.random() < options.mutation_rate:
                    child = self._mutate(instance, child, rng)
                admit(repair(child, float(rng.uniform(0, REPAIR_NOISE))))
            generations += 1
            stalled = stalled + 1 if best_value <= before + 1e-9 else 0

        if deadline.cancelled():
            termination = Termination.cancelled
        elif deadline.remaining() <= 0:
            termination = Termination.time_limit
        elif options.max_generations is not None and generations >= options.max_generations:
            termination = Termination.iteration_limit
        else:
            termination = Termination.other
        return Result(
            status=SolutionStatus.feasible,
            termination=termination,
            objective=best_value,
            bound=None,
            solution=to_solution(instance, best),
            stats={"wall_time_s": deadline.elapsed(), "generations": generations, "seed": options.seed},
        )

    @staticmethod
    def _tournament(fitness: list[float], size: int, rng: np.random.Generator) -> int:
        """Index of the fittest of ``size`` individuals drawn at random."""
        entrants = rng.integers(0, len(fitness), size=size)
        return int(max(entrants, key=lambda index: fitness[int(index)]))

    @staticmethod
    def _crossover(first: IntArray, second: IntArray, rng: np.random.Generator) -> IntArray:
        """A random half of ``first``'s coalitions, then ``second``'s coalitions that do not clash."""
        child = np.full(first.size, UNASSIGNED, dtype=np.int64)
        for task in np.unique(first[first >= 0]):
            if rng.random() < 0.5:
                child[first == task] = task
        taken = set(np.unique(child[child >= 0]).tolist())
        for task in rng.permutation(np.unique(second[second >= 0])):
            members = second == task
            if int(task) not in taken and np.all(child[members] == UNASSIGNED):
                child[members] = task
        return child

    @staticmethod
    def _mutate(instance: Instance, genes: IntArray, rng: np.random.Generator) -> IntArray:
        """Dissolve a coalition, move one agent to a random task (or none), or swap two agents' tasks."""
        child = genes.copy()
        if child.size == 0:
            return child
        assigned = np.flatnonzero(child >= 0)
        operator = int(rng.integers(0, 3))
        if assigned.size == 0 or operator == 1:
            agent = int(rng.integers(0, child.size))
            child[agent] = int(rng.integers(-1, instance.n_tasks))
        elif operator == 0:
            child[child == child[rng.choice(assigned)]] = UNASSIGNED
        else:
            first, second = int(rng.choice(assigned)), int(rng.integers(0, child.size))
            child[first], child[second] = child[second], child[first]
        return child
