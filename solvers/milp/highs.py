"""The HiGHS back-end (highspy): MIP and LP, incumbents and bounds by callbacks, cancel by cancelSolve."""

from __future__ import annotations

from collections import deque
from typing import Any

import highspy
import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, SolverRefused, Termination
from solvers.milp.options import HighsOptions
from solvers.milp.outcome import (
    ProgressRelay,
    consistent_bound,
    finish_status,
    infeasible_by_bounds,
    settled_objective,
    solver_domains,
)
from solvers.milp.schema import MilpModel, VarType
from solvers.runtime import CANCEL_POLL_S, Deadline, improves_incumbent

#: A warm-started run whose returned point disagrees with its reported objective is solved again from scratch
#: when at least this many seconds are left.
RETRY_MIN_S = 0.1


def _to_highs_lp(model: MilpModel, zero_objective: bool = False) -> highspy.HighsLp:
    types, lb, ub = solver_domains(model)
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_vars
    lp.num_row_ = model.num_rows
    lp.col_cost_ = np.zeros(model.num_vars) if zero_objective else model.obj
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = model.row_lb
    lp.row_upper_ = model.row_ub
    lp.offset_ = 0.0 if zero_objective else model.objective_offset
    lp.sense_ = highspy.ObjSense.kMaximize if model.sense == "maximize" else highspy.ObjSense.kMinimize
    csc = model.matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = model.num_vars
    lp.a_matrix_.num_row_ = model.num_rows
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    if np.any(types != VarType.continuous):
        kinds = {
            VarType.continuous: highspy.HighsVarType.kContinuous,
            VarType.integer: highspy.HighsVarType.kInteger,
            VarType.semicontinuous: highspy.HighsVarType.kSemiContinuous,
        }
        lp.integrality_ = [kinds[VarType(t)] for t in types]
    return lp


#: The solver's own log, relayed as ``log`` events: at most this many lines per solve, in messages of at most
#: LOG_MESSAGE_CHARS characters (a slow run's first question is what the solver is doing).
LOG_LINES = 400
LOG_MESSAGE_CHARS = 1900


class LogRelay:
    """Collects HiGHS's log lines (from its thread) and passes them on as progress.log messages."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.pending: deque[str] = deque()
        self.sent = 0
        self.cut = False

    def collect(self, event: Any) -> None:
        self.pending.append(str(event.message))

    def flush(self) -> None:
        text = "".join(self.pending.popleft() for _ in range(len(self.pending)))
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        room = LOG_LINES - 1 - self.sent  # the last line is kept for saying the log was cut
        if self.cut or not lines:
            return
        if len(lines) > room:
            lines = [*lines[: max(room, 0)], f"(log cut at {LOG_LINES} lines)"]
            self.cut = True
        self.sent += len(lines)
        chunk: list[str] = []
        for line in lines:
            if chunk and sum(len(c) + 1 for c in chunk) + len(line) > LOG_MESSAGE_CHARS:
                self.progress.log("\n".join(chunk))
                chunk = []
            chunk.append(line[:LOG_MESSAGE_CHARS])
        self.progress.log("\n".join(chunk))


def _new_highs(options: HighsOptions, time_limit: float, log: LogRelay | None = None) -> highspy.Highs:
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.silent()
    if log is not None:  # the log goes to the relay, never to the console
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.cbLogging.subscribe(log.collect)
    h.setOptionValue("time_limit", max(time_limit, 0.01))
    h.setOptionValue("mip_rel_gap", options.rel_gap)
    h.setOptionValue("random_seed", options.seed)
    h.setOptionValue("threads", options.threads)
    h.setOptionValue("presolve", options.presolve)
    return h


def _offer_start(h: highspy.Highs, instance: MilpModel, values: np.ndarray, after_heuristics: bool) -> None:
    """Give HiGHS ``values`` as a starting solution: now, or (``after_heuristics``, for models without
    semi-continuous variables, whose auxiliary columns the callback cannot fill) through the user-solution
    callback. HiGHS queries it once after its setup, then after the trivial heuristics and feasibility jump,
    then during the root node and before each dive; the start goes with the second query (a solve that ends
    before it, e.g. closed by presolve or the heuristics, never sees the start: callers that need the answer
    no worse than the start compare, as predict_and_search does). A start offered
    before the solve becomes the incumbent feasibility jump begins from, and it then stays near the start: on
    a held-out set cover HiGHS alone found 182 by feasibility jump in 0.4 s, started from 183 it ended at 183
    (docs/kinds/milp.md, predict_and_search step 3)."""
    indices = np.arange(instance.num_vars, dtype=np.int32)
    if not after_heuristics or np.any(instance.var_types == VarType.semicontinuous):
        h.setSolution(instance.num_vars, indices, values)
        return
    queries = 0

    def on_query(event: Any) -> None:
        nonlocal queries
        queries += 1
        if queries == 2:
            event.data_in.setSolution(indices, values)

    h.cbMipUserSolution.subscribe(on_query)


class HighsSolver:
    """HiGHS: the default back-end; takes every linear model, including semi-continuous variables."""

    name = "highs"
    Options = HighsOptions

    def solve(
        self,
        instance: MilpModel,
        options: HighsOptions,
        progress: Progress,
        cancel: Cancel,
        initial: np.ndarray | None = None,
        start_after_heuristics: bool = False,
    ) -> Result:
        """Solve with HiGHS within ``options.time_limit_s``; ``initial`` (values of every variable) is offered to
        HiGHS as a starting solution, kept as an incumbent when it is feasible: before the solve, or with
        ``start_after_heuristics`` once HiGHS's own pre-root heuristics (trivial ones, feasibility jump) have run,
        so that they search from scratch instead of from the start (they improve on it only locally)."""
        deadline = Deadline(options.time_limit_s, cancel)
        infeasible = infeasible_by_bounds(instance)
        if infeasible is not None:
            return infeasible
        log = LogRelay(progress)
        relay = ProgressRelay(self.name, instance, progress)
        result = self._run(instance, options, options.time_limit_s, relay, log, cancel, initial, start_after_heuristics)
        lost = result.stats.get("objective_disagreement")
        if initial is not None and lost is not None and not cancel.is_set() and deadline.remaining() > RETRY_MIN_S:
            # HiGHS 1.16 can report a better objective than the point it returns after a start was offered
            # (seen when presolve solves a restricted model outright: the offered start comes back); the
            # point it reported is found again without the start, so solve once more from scratch.
            retry = self._run(instance, options, deadline.remaining(), relay, log, cancel, None)
            agrees = retry.objective is not None and "objective_disagreement" not in retry.stats
            if agrees and not improves_incumbent(instance.sense, result.objective, retry.objective):  # type: ignore[arg-type]
                retry.stats["start_discarded"] = lost
                result = retry
        relay.finish(result)
        result.stats["solve_time_s"] = deadline.elapsed()
        return result

    def _run(
        self,
        instance: MilpModel,
        options: HighsOptions,
        time_limit_s: float,
        relay: ProgressRelay,
        log: LogRelay,
        cancel: Cancel,
        initial: np.ndarray | None,
        start_after_heuristics: bool = False,
    ) -> Result:
        """One HiGHS run of at most ``time_limit_s``, relaying improvements as they come."""
        deadline = Deadline(time_limit_s, cancel)
        h = _new_highs(options, time_limit_s, log)
        if h.passModel(_to_highs_lp(instance)) == highspy.HighsStatus.kError:
            raise SolverRefused("HiGHS rejected the model data (e.g. a coefficient it treats as infinite)")
        if initial is not None:
            _offer_start(h, instance, initial.astype(np.float64), start_after_heuristics)

        def on_improving(event: Any) -> None:
            out = event.data_out
            # HiGHS may append auxiliary columns (semi-continuous variables): keep the model's own.
            values = list(map(float, out.mip_solution[: instance.num_vars])) if relay.with_values else None
            relay.events.put(("incumbent", float(out.objective_function_value), values))

        def on_interrupt(event: Any) -> None:
            relay.events.put(("bound", float(event.data_out.mip_dual_bound), None))

        h.cbMipImprovingSolution.subscribe(on_improving)
        h.cbMipInterrupt.subscribe(on_interrupt)
        h.HandleUserInterrupt = True
        cancelled = False
        h.startSolve()
        while True:
            done, _ = h.wait(CANCEL_POLL_S)
            relay.drain()
            log.flush()
            if done:
                break
            if not cancelled and cancel.is_set():
                cancelled = True
                h.cancelSolve()  # type: ignore[no-untyped-call]
        result = self._result(h, instance, cancelled)
        if (
            result.termination is Termination.other
            and h.getModelStatus() == highspy.HighsModelStatus.kUnboundedOrInfeasible
        ):
            result = self._infeasible_or_unbounded(instance, options, deadline.remaining())
        return result

    def _result(self, h: highspy.Highs, model: MilpModel, cancelled: bool) -> Result:
        status = h.getModelStatus()
        info = h.getInfo()
        stats: dict[str, Any] = {"highs_status": h.modelStatusToString(status)}
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        objective = solution = None
        if has_solution:
            x = np.asarray(h.getSolution().col_value, dtype=float)
            solution = model.solution_dict(x)
            objective = settled_objective(model, x, float(info.objective_function_value), stats)
        bound: float | None = None
        if np.any(solver_domains(model)[0] != VarType.continuous):
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
            stats["nodes"] = int(info.mip_node_count)
        elif status == highspy.HighsModelStatus.kOptimal and has_solution:
            bound = float(info.objective_function_value)  # an LP solved to optimality: its dual objective
        bound = consistent_bound(model.sense, objective, bound)
        HMS = highspy.HighsModelStatus
        if status == HMS.kInfeasible:
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if status == HMS.kUnbounded:
            return Result(SolutionStatus.unbounded, Termination.unbounded, None, None, solution, stats)
        if status == HMS.kUnboundedOrInfeasible:
            return Result(SolutionStatus.no_solution, Termination.other, stats=stats)
        if status == HMS.kOptimal:
            termination, sol_status = finish_status(objective, bound, stats)
        elif status == HMS.kTimeLimit:
            termination, sol_status = Termination.time_limit, None
        elif status == HMS.kInterrupt or cancelled:
            termination, sol_status = Termination.cancelled, None
        elif status == HMS.kIterationLimit:
            termination, sol_status = Termination.iteration_limit, None
        else:
            termination, sol_status = Termination.other, None
        if sol_status is None:
            sol_status = SolutionStatus.feasible if has_solution else SolutionStatus.no_solution
        return Result(sol_status, termination, objective, bound, solution, stats)

    def _infeasible_or_unbounded(self, model: MilpModel, options: HighsOptions, time_left: float) -> Result:
        """Tell infeasible from unbounded by solving the feasibility problem (zero objective)."""
        h = _new_highs(options, time_left)
        h.passModel(_to_highs_lp(model, zero_objective=True))  # accepted once already, with costs
        h.run()
        status = h.getModelStatus()
        stats = {"highs_status": "infeasible or unbounded; feasibility check: " + h.modelStatusToString(status)}
        if status == highspy.HighsModelStatus.kInfeasible:
            return Result(SolutionStatus.infeasible, Termination.infeasible, stats=stats)
        if status == highspy.HighsModelStatus.kOptimal:
            solution = model.solution_dict(h.getSolution().col_value)
            return Result(SolutionStatus.unbounded, Termination.unbounded, None, None, solution, stats)
        return Result(SolutionStatus.no_solution, Termination.other, stats=stats)
