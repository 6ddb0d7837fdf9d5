"""The OR-Tools CP-SAT back-end, for pure integer models whose data become integers after exact scaling.

Each row and the objective are multiplied by the smallest power of ten (at most ``max_scale``) that makes all
their coefficients exactly integral (solvers/milp/scaling.py); integer variable bounds are rounded inward
(⌈lb − 10⁻⁶⌉, ⌊ub + 10⁻⁶⌋, as HiGHS and SCIP round them) and, since a row's scaled activity is then an
integer, so are the scaled row bounds, in exact integer arithmetic (``scaled_row_bound``). Rows without terms
are left out (``infeasible_by_bounds`` has checked them). Models with continuous or semi-continuous variables,
infinite variable bounds that the rows do not bound either (solvers/milp/bounds.py), or data that no allowed
power of ten makes integral are refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from solvers.base import Cancel, Progress, Result, SolutionStatus, SolverRefused, Termination
from solvers.milp.bounds import implied_bounds
from solvers.milp.options import CpsatOptions
from solvers.milp.outcome import (
    FEASIBILITY_TOLERANCE,
    ProgressRelay,
    consistent_bound,
    finish_status,
    infeasible_by_bounds,
    settled_objective,
)
from solvers.milp.scaling import MAX_SCALED, integer_refusal, integral_scale, row_scales, scaled_row_bound
from solvers.milp.schema import MilpModel
from solvers.runtime import CANCEL_POLL_S, Deadline, run_polling_cancel

#: From this many threads on, CP-SAT runs its parallel portfolio; below, one LP-based worker.
_PORTFOLIO_THREADS = 8
#: Row bounds are clamped to this magnitude (within int64; CP-SAT refuses rows whose activity can reach it).
_ROW_LIMIT = 2**62


class _Build:
    """The CP-SAT model of a MilpModel, with its objective scale (``empty_row``: a row no integer activity meets)."""

    def __init__(self, model: MilpModel, max_scale: float) -> None:
        reason = integer_refusal(model, max_scale)
        if reason:
            raise SolverRefused(reason)
        self.cp = cp_model.CpModel()
        self.empty_row: str | None = None
        lb, ub = implied_bounds(model)
        lb, ub = np.ceil(lb - FEASIBILITY_TOLERANCE), np.floor(ub + FEASIBILITY_TOLERANCE)
        if np.any(np.abs(lb) > MAX_SCALED) or np.any(np.abs(ub) > MAX_SCALED):
            raise SolverRefused("CP-SAT needs variable bounds within ±2^53")
        self.variables = [
            self.cp.new_int_var(int(lo), int(up), name) for lo, up, name in zip(lb, ub, model.var_names, strict=True)
        ]
        matrix = model.matrix
        for i, scale in enumerate(row_scales(model, max_scale)):
            start, end = matrix.indptr[i], matrix.indptr[i + 1]
            if start == end:
                continue  # no terms: its bounds hold 0 (infeasible_by_bounds ran first)
            coefficients, columns = matrix.data[start:end], matrix.indices[start:end]
            self._add_row(model.row_names[i], coefficients, columns, int(scale), model.row_lb[i], model.row_ub[i])
        # integer_refusal checked that a scale exists.
        scale = integral_scale(model.obj, max_scale) or 1
        self.objective_scale = scale
        coefficients = np.round(model.obj * scale)
        used = np.flatnonzero(coefficients)
        expression = cp_model.LinearExpr.weighted_sum(
            [self.variables[j] for j in used], [int(c) for c in coefficients[used]]
        )
        if model.sense == "minimize":
            self.cp.minimize(expression)
        else:
            self.cp.maximize(expression)

    def _add_row(
        self, name: str, coefficients: np.ndarray, columns: np.ndarray, scale: int, lower: float, upper: float
    ) -> None:
        """Add lower ≤ Σ coefficients·x ≤ upper multiplied by ``scale``, which makes the coefficients integral."""
        scaled = np.round(coefficients * scale)
        expression = cp_model.LinearExpr.weighted_sum([self.variables[j] for j in columns], [int(c) for c in scaled])
        # The scaled activity is an integer: the bounds round inward, exactly (scaled_row_bound).
        lo = scaled_row_bound(lower, scale, lower=True) if math.isfinite(lower) else None
        up = scaled_row_bound(upper, scale, lower=False) if math.isfinite(upper) else None
        if lo is not None and up is not None and lo > up and self.empty_row is None:
            self.empty_row = name
        # Bounds beyond any activity CP-SAT can represent are kept as the limit (it refuses larger activities).
        lo = None if lo is None else min(max(lo, -_ROW_LIMIT), _ROW_LIMIT)
        up = None if up is None else min(max(up, -_ROW_LIMIT), _ROW_LIMIT)
        if lo is not None and up is not None:
            self.cp.add_linear_constraint(expression, lo, up)
        elif up is not None:
            self.cp.add(expression <= up)
        elif lo is not None:
            self.cp.add(expression >= lo)


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Queues every improving solution (objective, values) for the calling thread."""

    def __init__(self, relay: ProgressRelay) -> None:
        super().__init__()
        self.relay = relay

    def on_solution_callback(self) -> None:
        values = list(self.response_proto.solution) if self.relay.with_values else None
        self.relay.events.put(("incumbent", float(self.objective_value), values))


class CpsatSolver:
    """CP-SAT: exact on pure integer models with integral (scaled) data; refuses anything else."""

    name = "cpsat"
    Options = CpsatOptions

    def solve(
        self,
        instance: MilpModel,
        options: CpsatOptions,
        progress: Progress,
        cancel: Cancel,
        initial: np.ndarray | None = None,
    ) -> Result:
        """Solve with CP-SAT within ``options.time_limit_s``; SolverRefused for models it cannot take. ``initial``
        (values of every variable, rounded to integers) is given to CP-SAT as a hint."""
        deadline = Deadline(options.time_limit_s, cancel)
        infeasible = infeasible_by_bounds(instance)
        if infeasible is not None:
            return infeasible
        build = _Build(instance, options.max_scale)
        if build.empty_row is not None:
            reason = f"row {build.empty_row!r}: no integer activity lies within its bounds"
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats={"reason": reason})
        if initial is not None:
            for variable, value in zip(build.variables, np.round(initial), strict=True):
                build.cp.add_hint(variable, int(value))
        invalid = build.cp.validate()
        if invalid:
            raise SolverRefused(f"CP-SAT rejected the model: {invalid}")
        scale, offset = build.objective_scale, instance.objective_offset
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(deadline.remaining(), 0.01)
        solver.parameters.relative_gap_limit = options.rel_gap
        solver.parameters.random_seed = options.seed
        if options.threads >= _PORTFOLIO_THREADS:
            solver.parameters.num_workers = options.threads
        else:
            # Measured on set cover and independent set: one worker with the full LP relaxation beats
            # CP-SAT's small portfolios on MILPs by far.
            solver.parameters.num_workers = 1
            solver.parameters.linearization_level = 2
        relay = ProgressRelay(self.name, instance, progress, objective_scale=scale, objective_offset=offset)
        solver.best_bound_callback = lambda bound: relay.events.put(("bound", float(bound), None))
        reporter = _Reporter(relay)
        status, cancelled = run_polling_cancel(
            lambda: solver.solve(build.cp, reporter), cancel, solver.stop_search, relay.drain, CANCEL_POLL_S
        )
        result = self._result(solver, status, instance, scale, cancelled)
        relay.finish(result)
        result.stats["solve_time_s"] = deadline.elapsed()
        result.stats["objective_scale"] = scale
        result.stats["workers"] = int(solver.parameters.num_workers)
        return result

    def _result(self, solver: Any, status: Any, model: MilpModel, scale: int, cancelled: bool) -> Result:
        stats: dict[str, Any] = {
            "cpsat_status": solver.status_name(status),
            "branches": int(solver.num_branches),
        }
        has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        solution = objective = bound = None
        if has_solution:
            x = np.array(solver.response_proto.solution, dtype=float)  # variables were created in model order
            solution = model.solution_dict(x)
            reported = solver.objective_value / scale + model.objective_offset
            objective = settled_objective(model, x, reported, stats)
        if math.isfinite(solver.best_objective_bound) and status != cp_model.INFEASIBLE:
            proven = solver.best_objective_bound / scale + model.objective_offset
            bound = consistent_bound(model.sense, objective, proven)
        if status == cp_model.INFEASIBLE:
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if status == cp_model.MODEL_INVALID:
            raise SolverRefused(f"CP-SAT found the model invalid: {solver.solution_info}")
        if status == cp_model.OPTIMAL:
            termination, sol_status = finish_status(objective, bound, stats)
            return Result(sol_status, termination, objective, bound, solution, stats)
        termination = Termination.cancelled if cancelled else Termination.time_limit
        sol_status = SolutionStatus.feasible if has_solution else SolutionStatus.no_solution
        return Result(sol_status, termination, objective, bound, solution, stats)
