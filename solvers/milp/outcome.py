"""Helpers every milp back-end shares: relaying progress from solver threads, and turning end states into Results."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers.base import Cancel, Progress, Result, Sense, SolutionStatus, Termination, relative_gap
from solvers.milp.model import MilpModel, VarType

#: An event a solver thread queues: ("incumbent" | "bound", objective or bound, values or None).
Event = tuple[str, float, Any]

#: Incumbent events carry the full solution only up to this many variables (else objective only).
INCUMBENT_SOLUTION_MAX_VARS = 200_000
#: A solve that stopped with |objective − bound| at most this (relative or absolute) counts as optimal.
OPTIMALITY_TOLERANCE = 1e-6


def improves_incumbent(sense: Sense, new: float, old: float | None) -> bool:
    """True when objective ``new`` is strictly better than ``old`` (None: nothing yet)."""
    if old is None:
        return True
    return new < old if sense == "minimize" else new > old


def improves_bound(sense: Sense, new: float, old: float | None) -> bool:
    """True when proven bound ``new`` is strictly tighter than ``old``."""
    if not np.isfinite(new):
        return False
    if old is None:
        return True
    return new > old if sense == "minimize" else new < old


def finish_status(objective: float | None, bound: float | None) -> tuple[Termination, SolutionStatus]:
    """Termination and status of a solve the back-end reports as finished (optimal within its gap)."""
    if objective is None:
        return Termination.other, SolutionStatus.no_solution
    gap = relative_gap(objective, bound)
    if bound is None or gap is None or gap <= OPTIMALITY_TOLERANCE or abs(objective - bound) <= OPTIMALITY_TOLERANCE:
        return Termination.optimal, SolutionStatus.optimal
    return Termination.gap_limit, SolutionStatus.feasible


def infeasible_by_bounds(model: MilpModel) -> Result | None:
    """An infeasible Result when some variable or row has lower bound > upper bound (an integer one: no
    integer inside), so no back-end needs to run; else None."""
    lb, ub = model.lb.copy(), model.ub.copy()
    is_int = model.var_types == VarType.integer
    lb[is_int] = np.ceil(lb[is_int] - 1e-9)
    ub[is_int] = np.floor(ub[is_int] + 1e-9)
    if np.any(lb > ub) or np.any(model.row_lb > model.row_ub):
        return Result(SolutionStatus.infeasible, Termination.infeasible, stats={"reason": "lower bound > upper bound"})
    return None


def run_polling_cancel(
    solve: Callable[[], Any], relay: ProgressRelay, cancel: Cancel, stop: Callable[[], None], poll_s: float = 0.1
) -> tuple[Any, bool]:
    """Run a blocking native solve in a thread; relay its progress and call ``stop`` once cancel is set.

    Returns (the solve's return value, whether it was cancelled); re-raises the solve's exception here.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = solve()
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="milp-solve", daemon=True)
    thread.start()
    cancelled = False
    while thread.is_alive():
        thread.join(poll_s)
        relay.drain()
        if not cancelled and cancel.is_set():
            cancelled = True
            stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value"), cancelled


class ProgressRelay:
    """Receives events queued by a solver's threads and forwards strict improvements to ``progress``.

    Solver callbacks run on the solver's threads; they only ``put`` into :attr:`events`, and the calling
    thread calls :meth:`drain`, so ``progress`` is only ever used from the calling thread.
    """

    def __init__(
        self,
        solver_name: str,
        model: MilpModel,
        progress: Progress,
        objective_scale: float = 1.0,
        objective_offset: float = 0.0,
    ) -> None:
        self.solver_name = solver_name
        self.model = model
        self.progress = progress
        self.objective_scale = objective_scale
        self.objective_offset = objective_offset
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.best_objective: float | None = None
        self.best_bound: float | None = None
        self.with_values = model.num_vars <= INCUMBENT_SOLUTION_MAX_VARS

    def drain(self) -> None:
        """Forward every queued improvement, mapping solver units back: value / scale + offset."""
        while True:
            try:
                what, value, values = self.events.get_nowait()
            except queue.Empty:
                return
            value = value / self.objective_scale + self.objective_offset
            if what == "bound":
                self.bound(value)
            elif improves_incumbent(self.model.sense, value, self.best_objective):
                self.best_objective = value
                solution = self.model.solution_dict(values) if values is not None and self.with_values else None
                self.progress.incumbent(value, solution)

    def bound(self, bound: float) -> None:
        """Forward a bound if it is strictly tighter than every earlier one."""
        if improves_bound(self.model.sense, bound, self.best_bound):
            self.best_bound = bound
            self.progress.bound(bound)

    def finish(self, result: Result) -> None:
        """Report the final answer and bound too, where the callbacks did not (LPs, last improvements)."""
        self.drain()
        objective = result.objective
        if objective is not None and improves_incumbent(self.model.sense, objective, self.best_objective):
            self.best_objective = objective
            self.progress.incumbent(objective, result.solution if self.with_values else None)
        if result.bound is not None:
            self.bound(result.bound)
        self.progress.log(
            f"{self.solver_name} stopped: {result.termination.value}, status {result.status.value}, "
            f"objective {result.objective}, bound {result.bound}"
        )
