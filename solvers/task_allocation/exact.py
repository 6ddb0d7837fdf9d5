"""The ``exact`` solver: the coalition MILP on the reduced model, built as a milp model and solved by milp's
HiGHS or CP-SAT back-end.

Model (on classes c of identical agents and kept tasks j; see ``reduction``):
maximise Σ_j R_j z_j − Σ_cj cost_cj y_cj subject to Σ_j y_cj ≤ |c|,
Σ_c min(a_ck, q_jk) y_cj ≥ q_jk z_j for every requirement (capped coefficients are valid because
one member never needs to supply more than q_jk), 0 ≤ y_cj ≤ u_cj integer, z binary.
CP-SAT also gets y_cj ≤ u_cj z_j (it propagates well there, and measured faster with it); HiGHS
does not (the rows barely tighten its LP, and measured slower with them). Costs are ≥ 0, so members
on a task left uncovered only cost; such agents are released when a solution is read back.
Every requirement row uses the kind's one coverage rule (``model.cover_slack``): q_jk stands for
q_jk − slack(q_jk), as in ``check``, so the model's optimum is the optimum ``check`` measures.
For CP-SAT the data are given as the decimals of ``cpsat_scales`` (per capability column and for the
objective), and since the scaled supplies are then integers, q_jk − slack(q_jk) is given as
⌈(q_jk − slack(q_jk))·10^d⌉ / 10^d, so every row is exactly integral after milp's scaling.

The greedy allocation is offered to the back-end as a start solution; the back-end's incumbents are
mapped back to allocations (``AllocationProgress``) and streamed as they improve.

Trust: the result's objective is always the profit recomputed from the returned allocation, and
``optimal`` is claimed only when that profit reaches the back-end's proven bound; the bound is never
lowered to meet it. HiGHS 1.16, given a start solution with presolve on, can report the objective of
the start's image in the presolved space while returning the start itself unchanged (2 of 180
generated 10 × 4 instances); when HiGHS's reported objective disagrees with the objective of the
solution it returns (milp's ``objective_disagreement``), the model is solved again without the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers.base import JSON, Cancel, Progress, Result, SolutionStatus, SolverRefused, Termination
from solvers.milp.options import CpsatOptions, HighsOptions
from solvers.milp.schema import MilpModel, VarType
from solvers.runtime import Deadline
from solvers.task_allocation.allocation import (
    UNASSIGNED,
    CoalitionBuilder,
    IntArray,
    greedy_fill,
    profit,
    release_uncovered,
    to_solution,
)
from solvers.task_allocation.options import ExactOptions
from solvers.task_allocation.reduction import ReducedModel, reduce_instance
from solvers.task_allocation.schema import FloatArray, Instance, cover_slack

#: Share of the time limit the warm-start greedy may use.
WARM_START_SHARE = 0.2
#: Largest decimal scale tried when turning data into CP-SAT integers.
MAX_DECIMALS = 6
#: Largest scaled magnitude CP-SAT is given (keeps sums far from int64 overflow).
MAX_SCALED = 2**40
#: Relative distance within which a back-end's objective and a recomputed one, or an objective and
#: a proven bound, count as equal (the service's own objective check uses the same 1e-6).
AGREEMENT_TOLERANCE = 1e-6


@dataclass
class Incumbents:
    """Keeps the best allocation seen and streams improvements to ``progress``."""

    instance: Instance
    progress: Progress
    best: IntArray
    value: float
    bound: float = math.inf

    def offer(self, task_of_agent: IntArray) -> None:
        """Keep ``task_of_agent`` (agents of uncovered tasks released) if it is better."""
        cleaned = release_uncovered(self.instance, task_of_agent)
        value = profit(self.instance, cleaned)
        if value > self.value + 1e-9:
            self.best, self.value = cleaned, value
            self.progress.incumbent(value, to_solution(self.instance, cleaned))

    def offer_bound(self, bound: float) -> None:
        """Report a proven upper bound if it improves on the last one."""
        if bound < self.bound - 1e-9:
            self.bound = bound
            self.progress.bound(bound)


@dataclass
class BackendOutcome:
    """What a back-end reports: why it stopped, whether it proved optimality, and its bound."""

    termination: Termination
    proved_optimal: bool
    bound: float | None
    stats: dict[str, Any] = field(default_factory=dict)


def agree(a: float, b: float) -> bool:
    """True when two objective values are equal within AGREEMENT_TOLERANCE (relative, at least 1 absolute unit)."""
    return abs(a - b) <= AGREEMENT_TOLERANCE * max(1.0, abs(a), abs(b))


def decimal_scale(values: FloatArray) -> int | None:
    """The smallest 10^d (d ≤ MAX_DECIMALS) making every value an integer, None if there is none."""
    if values.size == 0:
        return 1
    for decimals in range(MAX_DECIMALS + 1):
        scale = 10**decimals
        scaled = values * scale
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return scale if float(np.abs(scaled).max()) <= MAX_SCALED else None
    return None


class ExactSolver:
    """Reductions, a greedy warm start, then CP-SAT or HiGHS on the coalition model."""

    name = "exact"
    Options = ExactOptions

    def solve(self, instance: Instance, options: ExactOptions, progress: Progress, cancel: Cancel) -> Result:
        """Prove the optimum within the time limit, or return the best allocation and bound found."""
        deadline = Deadline(options.time_limit_s, cancel)
        model = reduce_instance(instance, options.reductions)
        backend = self._backend(model, options)
        empty = np.full(instance.n_agents, UNASSIGNED, dtype=np.int64)
        incumbents = Incumbents(instance, progress, empty, -math.inf)
        incumbents.offer(empty)
        incumbents.offer_bound(model.profit_bound)
        if options.warm_start:
            warm_deadline = WARM_START_SHARE * options.time_limit_s
            builder = CoalitionBuilder(instance)
            for rule in ("profit", "ratio"):
                incumbents.offer(
                    greedy_fill(
                        builder,
                        empty,
                        rule,
                        should_stop=lambda: deadline.should_stop() or deadline.elapsed() > warm_deadline,
                    )
                )
        stats: dict[str, Any] = {
            "backend": backend,
            "model_tasks": int(model.tasks.size),
            "model_classes": len(model.classes),
            "model_pairs": int(model.pair_class.size),
        }
        if model.pair_class.size == 0:  # nothing left to decide: the reductions' bound is the optimum
            outcome = BackendOutcome(Termination.optimal, True, model.profit_bound)
        elif deadline.should_stop():
            outcome = BackendOutcome(deadline.termination(), False, None)
        else:
            outcome = solve_coalition_model(model, instance, options, deadline, incumbents)
        stats.update(outcome.stats)
        bound = incumbents.bound
        if outcome.bound is not None:
            bound = min(bound, outcome.bound)
        if bound < incumbents.value and not agree(bound, incumbents.value):
            # a "proof" contradicted by a verified allocation is no proof: keep the reductions' bound
            stats["rejected_bound"] = bound
            bound = model.profit_bound
            outcome = BackendOutcome(outcome.termination, False, None)
        optimal = outcome.proved_optimal and agree(bound, incumbents.value)
        termination = outcome.termination
        if outcome.proved_optimal and not optimal:
            termination = Termination.gap_limit
        stats["wall_time_s"] = deadline.elapsed()
        return Result(
            status=SolutionStatus.optimal if optimal else SolutionStatus.feasible,
            termination=Termination.optimal if optimal else termination,
            objective=incumbents.value,
            bound=bound,
            solution=to_solution(instance, incumbents.best),
            stats=stats,
        )

    @staticmethod
    def _backend(model: ReducedModel, options: ExactOptions) -> str:
        """The back-end to use; refuses CP-SAT on data that does not scale exactly to integers."""
        if options.backend == "cpsat" and cpsat_scales(model) is None:
            raise SolverRefused(
                "CP-SAT needs integer data: capabilities, requirements, rewards and costs must become "
                f"integers after scaling by 10^d with d ≤ {MAX_DECIMALS} (and stay below 2^40); "
                "use backend 'highs'"
            )
        return options.backend


def cpsat_scales(model: ReducedModel) -> tuple[list[int], int] | None:
    """Per-capability scales and the objective scale that make the model integral, or None."""
    capability_scales: list[int] = []
    for k in range(model.requirement.shape[1]):
        scale = decimal_scale(np.concatenate([model.class_capability[:, k], model.requirement[:, k]]))
        if scale is None:
            return None
        capability_scales.append(scale)
    objective_scale = decimal_scale(np.concatenate([model.reward, model.pair_cost]))
    if objective_scale is None:
        return None
    total = (float(model.reward.sum()) + float((model.pair_cost * model.pair_upper).sum())) * objective_scale
    return (capability_scales, objective_scale) if total <= 2**62 else None


def coalition_model(model: ReducedModel, scales: tuple[list[int], int] | None) -> MilpModel:
    """The coalition MILP of ``model``: columns y (one per pair) then z (one per kept task).

    ``scales`` (from :func:`cpsat_scales`) builds CP-SAT's variant: data rounded to those decimals, the rows
    y ≤ u·z added, and class rows that cannot bind left out; None builds HiGHS's.
    """
    n_pairs, n_tasks = model.pair_class.size, model.tasks.size
    n_columns = n_pairs + n_tasks
    pairs = np.arange(n_pairs)
    class_size = np.array([members.size for members in model.classes], dtype=np.int64)
    capability, requirement = model.class_capability, model.requirement
    reward, pair_cost = model.reward, model.pair_cost
    if scales is not None:
        capability_scales, objective_scale = scales
        column_scale = np.array(capability_scales, dtype=np.float64)
        capability = np.round(capability * column_scale) / column_scale
        requirement = np.round(requirement * column_scale) / column_scale
        reward = np.round(reward * objective_scale) / objective_scale
        pair_cost = np.round(pair_cost * objective_scale) / objective_scale
    blocks: list[sp.coo_matrix] = []
    lower: list[FloatArray] = []
    upper: list[FloatArray] = []
    names: list[str] = []
    # Σ_j y_cj ≤ |c| (CP-SAT: only where the pairs' upper bounds could exceed |c|)
    classes = np.arange(len(model.classes))
    if scales is not None:
        classes = classes[np.bincount(model.pair_class, model.pair_upper, len(model.classes)) > class_size]
    row_of_class = np.full(len(model.classes), -1, dtype=np.int64)
    row_of_class[classes] = np.arange(classes.size)
    in_row = row_of_class[model.pair_class] >= 0
    blocks.append(
        sp.coo_matrix(
            (np.ones(int(in_row.sum())), (row_of_class[model.pair_class[in_row]], pairs[in_row])),
            shape=(classes.size, n_columns),
        )
    )
    lower.append(np.full(classes.size, -np.inf))
    upper.append(class_size[classes].astype(np.float64))
    names.extend(f"class{c}" for c in classes)
    if scales is not None:  # y_cj − u_cj z_j ≤ 0
        blocks.append(
            sp.coo_matrix(
                (
                    np.concatenate([np.ones(n_pairs), -model.pair_upper.astype(np.float64)]),
                    (np.concatenate([pairs, pairs]), np.concatenate([pairs, n_pairs + model.pair_task])),
                ),
                shape=(n_pairs, n_columns),
            )
        )
        lower.append(np.full(n_pairs, -np.inf))
        upper.append(np.zeros(n_pairs))
        names.extend(f"link{q}" for q in range(n_pairs))
    # Σ_c min(a_ck, q_jk) y_cj − (q_jk − slack(q_jk)) z_j ≥ 0
    positions, capabilities = np.nonzero(model.requirement > 0)
    row_of = np.full(model.requirement.shape, -1, dtype=np.int64)
    row_of[positions, capabilities] = np.arange(positions.size)
    pair_row = row_of[model.pair_task]  # (pairs, capabilities)
    supply = np.minimum(capability[model.pair_class], requirement[model.pair_task])
    used = (pair_row >= 0) & (supply > 0)
    needs = model.requirement[positions, capabilities]
    thresholds = needs - cover_slack(needs)
    if scales is not None:  # scaled supplies are integers, so "≥ need − slack" is "≥ ⌈(need − slack)·scale⌉"
        column_scale = np.array(scales[0], dtype=np.float64)[capabilities]
        thresholds = np.ceil(thresholds * column_scale) / column_scale
    cover_rows = np.concatenate([pair_row[used], np.arange(positions.size)])
    cover_cols = np.concatenate([np.nonzero(used)[0], n_pairs + positions])
    cover_vals = np.concatenate([supply[used], -thresholds])
    blocks.append(sp.coo_matrix((cover_vals, (cover_rows, cover_cols)), shape=(positions.size, n_columns)))
    lower.append(np.zeros(positions.size))
    upper.append(np.full(positions.size, np.inf))
    names.extend(f"cover{p}_{k}" for p, k in zip(positions, capabilities, strict=True))
    return MilpModel(
        name="task_allocation",
        sense="maximize",
        objective_offset=model.constant_reward,
        var_names=[f"y{q}" for q in range(n_pairs)] + [f"z{p}" for p in range(n_tasks)],
        var_types=np.full(n_columns, VarType.integer, dtype=np.int8),
        lb=np.zeros(n_columns),
        ub=np.concatenate([model.pair_upper.astype(np.float64), np.ones(n_tasks)]),
        obj=np.concatenate([-pair_cost, reward]),
        row_names=names,
        matrix=sp.vstack(blocks).tocsr(),
        row_lb=np.concatenate(lower),
        row_ub=np.concatenate(upper),
    )


class AllocationProgress:
    """The Progress a milp back-end reports to: its incumbents become allocations offered to ``incumbents``,
    its bounds are passed on, and its log is dropped (the job reports allocations, not columns)."""

    def __init__(self, model: ReducedModel, instance: Instance, incumbents: Incumbents) -> None:
        self.model = model
        self.instance = instance
        self.incumbents = incumbents

    def allocation(self, solution: JSON) -> IntArray:
        """The agent-level allocation of a milp solution ``{"values": {name: value}}`` (y columns first)."""
        values = np.fromiter(solution["values"].values(), dtype=np.float64)[: self.model.pair_class.size]
        return self.model.allocation(self.instance.n_agents, np.round(values).astype(np.int64))

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        """Offer the back-end's solution as an allocation (its objective is recomputed from it)."""
        if solution is not None:
            self.incumbents.offer(self.allocation(solution))

    def bound(self, bound: float) -> None:
        """Pass a proven bound on."""
        self.incumbents.offer_bound(bound)

    def log(self, message: str) -> None:
        """Drop the back-end's log lines."""


def solve_coalition_model(
    model: ReducedModel, instance: Instance, options: ExactOptions, deadline: Deadline, incumbents: Incumbents
) -> BackendOutcome:
    """Solve the coalition model with milp's HiGHS or CP-SAT back-end, from the greedy start if asked."""
    scales = cpsat_scales(model) if options.backend == "cpsat" else None
    milp_model = coalition_model(model, scales)
    progress = AllocationProgress(model, instance, incumbents)
    start: FloatArray | None = None
    if options.warm_start:
        counts, completed = model.class_counts(incumbents.best)
        start = np.concatenate([counts, completed]).astype(np.float64)

    def run(initial: FloatArray | None) -> Result:
        common = {
            "time_limit_s": max(deadline.remaining(), 0.01),
            "rel_gap": options.rel_gap,
            "seed": options.seed,
            "threads": options.threads,
        }
        if options.backend == "cpsat":
            from solvers.milp.cpsat import CpsatSolver

            return CpsatSolver().solve(milp_model, CpsatOptions(**common), progress, deadline.cancel, initial)
        from solvers.milp.highs import HighsSolver

        return HighsSolver().solve(milp_model, HighsOptions(**common), progress, deadline.cancel, initial)

    result = run(start)
    stats: dict[str, Any] = {}
    if "objective_disagreement" in result.stats and start is not None and not deadline.should_stop():
        result = run(None)
        stats["highs_resolved_without_start"] = True
    if result.solution is not None:
        incumbents.offer(progress.allocation(result.solution))
    proved = result.termination in (Termination.optimal, Termination.gap_limit)
    termination = Termination.optimal if proved else result.termination
    if not proved and deadline.cancelled():
        termination = Termination.cancelled
    return BackendOutcome(termination, proved, result.bound, stats)
