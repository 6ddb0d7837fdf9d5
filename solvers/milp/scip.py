"""The SCIP back-end (PySCIPOpt): incumbents and bounds from an event handler, cancel via interruptSolve.

A semi-continuous variable x ∈ {0} ∪ [l, u] with 0 < l ≤ u is modelled exactly with a binary z: l·z ≤ x ≤ u·z
(other cases are a plain interval or x = 0: ``solver_domains``).
SCIP itself is single-threaded here; ``threads`` is accepted and reported but does not change the search.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pyscipopt import Eventhdlr, Model, quicksum
from pyscipopt.scip import PY_SCIP_EVENTTYPE as SCIP_EVENTTYPE
from pyscipopt.scip import PY_SCIP_PARAMSETTING as SCIP_PARAMSETTING
from pyscipopt.scip import ExprCons

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.milp.options import ScipOptions
from solvers.milp.outcome import (
    ProgressRelay,
    consistent_bound,
    finish_status,
    infeasible_by_bounds,
    settled_objective,
    solver_domains,
)
from solvers.milp.schema import MilpModel, VarType
from solvers.runtime import CANCEL_POLL_S, Deadline, run_polling_cancel

_PRESOLVE = {"default": None, "off": "off", "aggressive": "aggressive", "fast": "fast"}
_EVENTS = (SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.DUALBOUNDIMPROVED)


def _build(model: MilpModel, zero_objective: bool = False) -> tuple[Model, list[Any]]:
    scip = Model(model.name or "milp")
    scip.hideOutput()
    types, lower, upper = solver_domains(model)
    variables = []
    for j, name in enumerate(model.var_names):
        lb = None if math.isinf(lower[j]) else float(lower[j])
        ub = None if math.isinf(upper[j]) else float(upper[j])
        if types[j] == VarType.semicontinuous:  # 0 < lb ≤ ub < inf here (solver_domains)
            x = scip.addVar(name, vtype="C", lb=0.0, ub=ub)
            on = scip.addVar(f"{name}#on", vtype="B")
            scip.addCons(x <= float(upper[j]) * on)
            scip.addCons(x >= float(lower[j]) * on)
            variables.append(x)
            continue
        kind = "I" if types[j] == VarType.integer else "C"
        variables.append(scip.addVar(name, vtype=kind, lb=lb, ub=ub))
    matrix = model.matrix
    for i in range(model.num_rows):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        expression = quicksum(
            float(c) * variables[j] for c, j in zip(matrix.data[start:end], matrix.indices[start:end], strict=True)
        )
        lo = None if math.isinf(model.row_lb[i]) else float(model.row_lb[i])
        up = None if math.isinf(model.row_ub[i]) else float(model.row_ub[i])
        if lo is None and up is None:
            continue
        scip.addCons(ExprCons(expression, lhs=lo, rhs=up), name=model.row_names[i])
    if not zero_objective:
        used = np.flatnonzero(model.obj)
        scip.setObjective(quicksum(float(model.obj[j]) * variables[j] for j in used), sense=model.sense)
        if model.objective_offset:
            scip.addObjoffset(model.objective_offset)
    return scip, variables


class _Reporter(Eventhdlr):
    """Queues new best solutions and improved dual bounds for the calling thread."""

    def __init__(self, relay: ProgressRelay, variables: list[Any]) -> None:
        super().__init__()
        self.relay = relay
        self.variables = variables

    def eventinit(self) -> None:
        for event_type in _EVENTS:
            self.model.catchEvent(event_type, self)

    def eventexit(self) -> None:
        for event_type in _EVENTS:
            self.model.dropEvent(event_type, self)

    def eventexec(self, event: Any) -> None:
        if event.getType() == SCIP_EVENTTYPE.BESTSOLFOUND:
            solution = self.model.getBestSol()
            values = [self.model.getSolVal(solution, v) for v in self.variables] if self.relay.with_values else None
            self.relay.events.put(("incumbent", float(self.model.getSolObjVal(solution)), values))
        else:
            self.relay.events.put(("bound", float(self.model.getDualbound()), None))


class ScipSolver:
    """SCIP branch-and-cut: takes every linear model (semi-continuous by reformulation)."""

    name = "scip"
    Options = ScipOptions

    def solve(self, instance: MilpModel, options: ScipOptions, progress: Progress, cancel: Cancel) -> Result:
        """Solve with SCIP within ``options.time_limit_s``."""
        deadline = Deadline(options.time_limit_s, cancel)
        infeasible = infeasible_by_bounds(instance)
        if infeasible is not None:
            return infeasible
        scip, variables = _build(instance)
        self._configure(scip, options, deadline.remaining())
        relay = ProgressRelay(self.name, instance, progress)
        reporter = _Reporter(relay, variables)
        scip.includeEventhdlr(reporter, "solvent_progress", "reports incumbents and bounds")
        _, cancelled = run_polling_cancel(scip.optimizeNogil, cancel, scip.interruptSolve, relay.drain, CANCEL_POLL_S)
        result = self._result(scip, variables, instance, cancelled)
        if result.termination is Termination.other and scip.getStatus() == "inforunbd":
            result = self._infeasible_or_unbounded(instance, options, deadline.remaining())
        relay.finish(result)
        result.stats["solve_time_s"] = deadline.elapsed()
        result.stats["threads_used"] = 1
        return result

    @staticmethod
    def _configure(scip: Model, options: ScipOptions, time_limit: float) -> None:
        scip.setParam("limits/time", max(time_limit, 0.01))
        scip.setParam("limits/gap", options.rel_gap)
        scip.setParam("randomization/randomseedshift", options.seed)
        emphasis = _PRESOLVE[options.presolve]
        if emphasis is not None:
            setting = {
                "off": SCIP_PARAMSETTING.OFF,
                "aggressive": SCIP_PARAMSETTING.AGGRESSIVE,
                "fast": SCIP_PARAMSETTING.FAST,
            }[emphasis]
            scip.setPresolve(setting)

    def _result(self, scip: Model, variables: list[Any], model: MilpModel, cancelled: bool) -> Result:
        status = scip.getStatus()
        stats: dict[str, Any] = {"scip_status": status, "nodes": int(scip.getNNodes())}
        solution = objective = bound = None
        if scip.getNSols() > 0:
            best = scip.getBestSol()
            x = np.array([scip.getSolVal(best, v) for v in variables], dtype=float)
            solution = model.solution_dict(x)
            objective = settled_objective(model, x, float(scip.getSolObjVal(best)), stats)
        dual = scip.getDualbound()
        if math.isfinite(dual) and abs(dual) < 1e20 and status not in ("infeasible", "unbounded", "inforunbd"):
            bound = consistent_bound(model.sense, objective, float(dual))
        if status == "infeasible":
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if status == "unbounded":
            return Result(SolutionStatus.unbounded, Termination.unbounded, None, None, solution, stats)
        if status == "inforunbd":
            return Result(SolutionStatus.no_solution, Termination.other, stats=stats)
        if status in ("optimal", "gaplimit"):
            termination, sol_status = finish_status(objective, bound, stats)
            return Result(sol_status, termination, objective, bound, solution, stats)
        if status == "userinterrupt" or cancelled:
            termination = Termination.cancelled
        elif status == "timelimit":
            termination = Termination.time_limit
        else:
            termination = Termination.other
        sol_status = SolutionStatus.feasible if solution is not None else SolutionStatus.no_solution
        return Result(sol_status, termination, objective, bound, solution, stats)

    def _infeasible_or_unbounded(self, model: MilpModel, options: ScipOptions, time_left: float) -> Result:
        """Tell infeasible from unbounded by solving the feasibility problem (zero objective)."""
        scip, variables = _build(model, zero_objective=True)
        self._configure(scip, options, time_left)
        scip.optimize()
        status = scip.getStatus()
        stats = {"scip_status": f"inforunbd; feasibility check: {status}"}
        if status == "infeasible":
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if scip.getNSols() > 0:
            best = scip.getBestSol()
            x = np.array([scip.getSolVal(best, v) for v in variables], dtype=float)
            return Result(SolutionStatus.unbounded, Termination.unbounded, None, None, model.solution_dict(x), stats)
        return Result(SolutionStatus.no_solution, Termination.other, stats=stats)
