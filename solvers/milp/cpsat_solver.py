"""The OR-Tools CP-SAT back-end, for pure integer models whose data become integers after exact scaling.

Each row and the objective are multiplied by the smallest power of ten (at most ``max_scale``) that makes all
their coefficients integral; integer variable bounds are rounded inward (ceil of lb, floor of ub) and, since a
row's activity is then an integer, so are the scaled row bounds. Models with continuous or semi-continuous
variables, infinite variable bounds that the rows do not bound either (solvers/milp/bounds.py), or data that
no allowed power of ten makes integral are refused.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from solvers.base import Cancel, Progress, Result, SolutionStatus, SolverRefused, Termination
from solvers.milp.bounds import implied_bounds
from solvers.milp.model import MilpModel
from solvers.milp.options import CpsatOptions
from solvers.milp.outcome import ProgressRelay, finish_status, infeasible_by_bounds, run_polling_cancel
from solvers.milp.scaling import INTEGRALITY_EPS, integer_refusal, integral_scale, row_scales

_POLL_S = 0.1
#: From this many threads on, CP-SAT runs its parallel portfolio; below, one LP-based worker.
_PORTFOLIO_THREADS = 8
#: Largest magnitude of a scaled coefficient or bound CP-SAT is given (well inside int64).
_MAX_MAGNITUDE = 2**53


class _Build:
    """The CP-SAT model of a MilpModel, with its objective scale."""

    def __init__(self, model: MilpModel, max_scale: float) -> None:
        reason = integer_refusal(model, max_scale)
        if reason:
            raise SolverRefused(reason)
        self.cp = cp_model.CpModel()
        lb, ub = implied_bounds(model)
        lb, ub = np.ceil(lb - INTEGRALITY_EPS), np.floor(ub + INTEGRALITY_EPS)
        if np.any(np.abs(lb) > _MAX_MAGNITUDE) or np.any(np.abs(ub) > _MAX_MAGNITUDE):
            raise SolverRefused("CP-SAT needs variable bounds within ±2^53")
        self.variables = [
            self.cp.new_int_var(int(lo), int(up), name) for lo, up, name in zip(lb, ub, model.var_names, strict=True)
        ]
        matrix = model.matrix
        for i, scale in enumerate(row_scales(model, max_scale)):
            start, end = matrix.indptr[i], matrix.indptr[i + 1]
            coefficients, columns = matrix.data[start:end], matrix.indices[start:end]
            self._add_row(
                model.row_names[i], coefficients * scale, columns, model.row_lb[i] * scale, model.row_ub[i] * scale
            )
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

    def _add_row(self, name: str, coefficients: np.ndarray, columns: np.ndarray, lower: float, upper: float) -> None:
        """Add lower ≤ Σ coefficients·x ≤ upper, data already scaled so that the coefficients are integral."""
        scaled = np.round(coefficients)
        if np.any(np.abs(scaled) > _MAX_MAGNITUDE):
            raise SolverRefused(f"row {name!r} has coefficients too large for CP-SAT after scaling")
        expression = cp_model.LinearExpr.weighted_sum([self.variables[j] for j in columns], [int(c) for c in scaled])
        # The activity is an integer, so the bounds round inward.
        lo = math.ceil(lower - INTEGRALITY_EPS * max(1.0, abs(lower))) if math.isfinite(lower) else None
        up = math.floor(upper + INTEGRALITY_EPS * max(1.0, abs(upper))) if math.isfinite(upper) else None
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
    exact = True
    learned = False
    Options = CpsatOptions

    def solve(self, instance: MilpModel, options: CpsatOptions, progress: Progress, cancel: Cancel) -> Result:
        """Solve with CP-SAT within ``options.time_limit_s``; SolverRefused for models it cannot take."""
        start = time.monotonic()
        infeasible = infeasible_by_bounds(instance)
        if infeasible is not None:
            return infeasible
        build = _Build(instance, options.max_scale)
        invalid = build.cp.validate()
        if invalid:
            raise SolverRefused(f"CP-SAT rejected the model: {invalid}")
        scale, offset = build.objective_scale, instance.objective_offset
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(options.time_limit_s - (time.monotonic() - start), 0.01)
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
            lambda: solver.solve(build.cp, reporter), relay, cancel, solver.stop_search, _POLL_S
        )
        result = self._result(solver, status, instance, scale, cancelled)
        relay.finish(result)
        result.stats["solve_time_s"] = time.monotonic() - start
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
            objective = model.objective_value(x)
        if math.isfinite(solver.best_objective_bound) and status != cp_model.INFEASIBLE:
            bound = solver.best_objective_bound / scale + model.objective_offset
        if status == cp_model.INFEASIBLE:
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if status == cp_model.MODEL_INVALID:
            raise SolverRefused(f"CP-SAT found the model invalid: {solver.solution_info}")
        if status == cp_model.OPTIMAL:
            termination, sol_status = finish_status(objective, bound)
            return Result(sol_status, termination, objective, bound, solution, stats)
        termination = Termination.cancelled if cancelled else Termination.time_limit
        sol_status = SolutionStatus.feasible if has_solution else SolutionStatus.no_solution
        return Result(sol_status, termination, objective, bound, solution, stats)
