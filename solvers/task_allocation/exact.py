"""The ``exact`` solver: the coalition MILP on the reduced model, by CP-SAT or HiGHS.

Model (on classes c of identical agents and kept tasks j; see ``reduction``):
maximise Σ_j R_j z_j − Σ_cj cost_cj y_cj subject to Σ_j y_cj ≤ |c|,
Σ_c min(a_ck, q_jk) y_cj ≥ q_jk z_j for every requirement (capped coefficients are valid because
one member never needs to supply more than q_jk), 0 ≤ y_cj ≤ u_cj integer, z binary.
CP-SAT also gets y_cj ≤ u_cj z_j (it propagates well there, and measured faster with it); HiGHS
does not (the rows barely tighten its LP, and measured slower with them). Costs are ≥ 0, so members
on a task left uncovered only cost; such agents are released when a solution is read back.
Every requirement row uses the kind's one coverage rule (``model.cover_slack``): q_jk stands for
q_jk − slack(q_jk), as in ``check``, so the model's optimum is the optimum ``check`` measures.

Trust: the result's objective is always the profit recomputed from the returned allocation, and
``optimal`` is claimed only when that profit reaches the back-end's proven bound; the bound is never
lowered to meet it. HiGHS 1.16, given a start solution with presolve on, can report the objective of
the start's image in the presolved space while returning the start itself unchanged (2 of 180
generated 10 × 4 instances); when HiGHS's reported objective disagrees with the objective of the
solution it returns, the model is solved again without the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers.base import Cancel, Progress, Result, SolutionStatus, SolverRefused, Termination
from solvers.runtime import Deadline, stop_on_cancel
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
    exact = True
    learned = False
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
        elif backend == "cpsat":
            outcome = solve_cpsat(model, instance, options, deadline, incumbents)
        else:
            outcome = solve_highs(model, instance, options, deadline, incumbents)
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


def solve_cpsat(
    model: ReducedModel, instance: Instance, options: ExactOptions, deadline: Deadline, incumbents: Incumbents
) -> BackendOutcome:
    """Solve the coalition model with OR-Tools CP-SAT."""
    from ortools.sat.python import cp_model

    scales = cpsat_scales(model)
    assert scales is not None
    capability_scales, objective_scale = scales
    cp = cp_model.CpModel()
    n_pairs = model.pair_class.size
    count = [cp.new_int_var(0, int(model.pair_upper[q]), f"y{q}") for q in range(n_pairs)]
    done = [cp.new_bool_var(f"z{p}") for p in range(model.tasks.size)]
    pairs_of_class: list[list[int]] = [[] for _ in model.classes]
    pairs_of_task: list[list[int]] = [[] for _ in range(model.tasks.size)]
    for q in range(n_pairs):
        pairs_of_class[int(model.pair_class[q])].append(q)
        pairs_of_task[int(model.pair_task[q])].append(q)
    for c, pairs in enumerate(pairs_of_class):
        if int(model.pair_upper[pairs].sum()) > model.classes[c].size:
            cp.add(sum(count[q] for q in pairs) <= model.classes[c].size)
    for p, pairs in enumerate(pairs_of_task):
        for q in pairs:
            cp.add(count[q] <= int(model.pair_upper[q]) * done[p])
        for k in np.flatnonzero(model.requirement[p] > 0):
            need = float(model.requirement[p, k])
            scale = capability_scales[k]
            terms = [
                (round(min(float(model.class_capability[model.pair_class[q], k]), need) * scale), q) for q in pairs
            ]
            # scaled supplies are integers, so "≥ need − slack" is "≥ ⌈(need − slack)·scale⌉"
            threshold = math.ceil((need - float(cover_slack(need))) * scale)
            cp.add(sum(coef * count[q] for coef, q in terms if coef > 0) >= threshold * done[p])
    cp.maximize(
        sum(round(float(model.reward[p]) * objective_scale) * done[p] for p in range(model.tasks.size))
        - sum(round(float(model.pair_cost[q]) * objective_scale) * count[q] for q in range(n_pairs))
    )
    counts, completed = model.class_counts(incumbents.best)
    for q in range(n_pairs):
        cp.add_hint(count[q], int(counts[q]))
    for p in range(model.tasks.size):
        cp.add_hint(done[p], bool(completed[p]))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(deadline.remaining(), 0.01)
    solver.parameters.num_workers = options.threads
    solver.parameters.random_seed = options.seed
    solver.parameters.relative_gap_limit = options.rel_gap
    solver.parameters.linearization_level = 2  # the full LP relaxation: level 1 leaves the bound loose here
    count_index = [var.index for var in count]

    def scaled_back(value: float) -> float:
        return value / objective_scale + model.constant_reward

    class OnSolution(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            values = self.response_proto.solution
            incumbents.offer(model.allocation(instance.n_agents, np.array([values[i] for i in count_index])))
            if deadline.cancelled():
                self.stop_search()

    solver.best_bound_callback = lambda bound: incumbents.offer_bound(scaled_back(bound))
    with stop_on_cancel(deadline.cancel, solver.stop_search):
        status = solver.solve(cp, OnSolution())
    proved = status == cp_model.OPTIMAL
    bound = scaled_back(solver.best_objective_bound) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    if proved:
        termination = Termination.optimal
    elif deadline.cancelled():
        termination = Termination.cancelled
    else:
        termination = Termination.time_limit
    return BackendOutcome(termination, proved, bound)


def solve_highs(
    model: ReducedModel, instance: Instance, options: ExactOptions, deadline: Deadline, incumbents: Incumbents
) -> BackendOutcome:
    """Solve the coalition model with HiGHS branch-and-cut."""
    import highspy

    n_pairs, n_tasks = model.pair_class.size, model.tasks.size
    n_classes = len(model.classes)
    pairs = np.arange(n_pairs)
    rows: list[sp.coo_matrix] = []
    lower: list[FloatArray] = []
    upper: list[FloatArray] = []
    # Σ_j y_cj ≤ |c|
    rows.append(sp.coo_matrix((np.ones(n_pairs), (model.pair_class, pairs)), shape=(n_classes, n_pairs + n_tasks)))
    lower.append(np.full(n_classes, -np.inf))
    upper.append(np.array([members.size for members in model.classes], dtype=np.float64))
    # Σ_c min(a_ck, q_jk) y_cj − (q_jk − slack(q_jk)) z_j ≥ 0
    positions, capabilities = np.nonzero(model.requirement > 0)
    row_of = {(int(p), int(k)): r for r, (p, k) in enumerate(zip(positions, capabilities, strict=True))}
    cover_rows, cover_cols, cover_vals = [], [], []
    for q in range(n_pairs):
        c, p = int(model.pair_class[q]), int(model.pair_task[q])
        for k in np.flatnonzero(model.requirement[p] > 0):
            coefficient = min(float(model.class_capability[c, k]), float(model.requirement[p, k]))
            if coefficient > 0:
                cover_rows.append(row_of[(p, int(k))])
                cover_cols.append(q)
                cover_vals.append(coefficient)
    cover_rows.extend(range(positions.size))
    cover_cols.extend(n_pairs + positions)
    needs = model.requirement[positions, capabilities]
    cover_vals.extend(-(needs - cover_slack(needs)))
    rows.append(sp.coo_matrix((cover_vals, (cover_rows, cover_cols)), shape=(positions.size, n_pairs + n_tasks)))
    lower.append(np.zeros(positions.size))
    upper.append(np.full(positions.size, np.inf))
    matrix = sp.vstack(rows).tocsc()

    lp = highspy.HighsLp()
    lp.num_col_ = n_pairs + n_tasks
    lp.num_row_ = matrix.shape[0]
    lp.col_cost_ = np.concatenate([-model.pair_cost, model.reward])
    lp.col_lower_ = np.zeros(n_pairs + n_tasks)
    lp.col_upper_ = np.concatenate([model.pair_upper.astype(np.float64), np.ones(n_tasks)])
    lp.row_lower_ = np.concatenate(lower)
    lp.row_upper_ = np.concatenate(upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.offset_ = model.constant_reward
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (n_pairs + n_tasks)

    start: list[float] | None = None
    if options.warm_start:
        counts, completed = model.class_counts(incumbents.best)
        start = np.concatenate([counts, completed]).astype(np.float64).tolist()

    def on_improving(event: Any) -> None:
        values = np.asarray(event.data_out.mip_solution)[:n_pairs]
        incumbents.offer(model.allocation(instance.n_agents, np.round(values).astype(np.int64)))

    def on_mip_interrupt(event: Any) -> None:
        bound = float(event.data_out.mip_dual_bound)
        if math.isfinite(bound):
            incumbents.offer_bound(bound)
        if deadline.cancelled():
            event.interrupt()

    def on_simplex_interrupt(event: Any) -> None:
        if deadline.cancelled():
            event.interrupt()

    def attempt(start: list[float] | None) -> tuple[BackendOutcome, bool]:
        """One HiGHS run; also whether the objective it reports is that of the solution it returns."""
        highs = highspy.Highs()  # type: ignore[no-untyped-call]
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("time_limit", max(deadline.remaining(), 0.01))
        highs.setOptionValue("mip_rel_gap", options.rel_gap)
        highs.setOptionValue("threads", options.threads)
        highs.setOptionValue("random_seed", options.seed)
        highs.passModel(lp)
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = start
            solution.value_valid = True
            highs.setSolution(solution)
        highs.cbMipImprovingSolution.subscribe(on_improving)
        highs.cbMipInterrupt.subscribe(on_mip_interrupt)
        highs.cbSimplexInterrupt.subscribe(on_simplex_interrupt)
        highs.run()
        status = highs.getModelStatus()
        info = highs.getInfo()
        consistent = True
        if info.primal_solution_status == 2:
            values = np.asarray(highs.getSolution().col_value)
            incumbents.offer(model.allocation(instance.n_agents, np.round(values[:n_pairs]).astype(np.int64)))
            returned = float(lp.col_cost_ @ values) + lp.offset_
            consistent = agree(float(info.objective_function_value), returned)
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
        if status == highspy.HighsModelStatus.kOptimal and consistent:
            return BackendOutcome(Termination.optimal, True, bound), consistent
        if deadline.cancelled():
            return BackendOutcome(Termination.cancelled, False, bound), consistent
        if status == highspy.HighsModelStatus.kOptimal:  # optimal, but not for the solution returned
            return BackendOutcome(Termination.other, False, bound), consistent
        return BackendOutcome(Termination.time_limit, False, bound), consistent

    outcome, consistent = attempt(start)
    if not consistent and start is not None and not deadline.should_stop():
        outcome, consistent = attempt(None)
        outcome.stats["highs_resolved_without_start"] = True
    return outcome
