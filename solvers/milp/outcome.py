"""Helpers every milp back-end shares: relaying progress from solver threads, and turning end states into Results.

The deadline, the polled-cancel loop and the improvement rules are the shared ones of :mod:`solvers.runtime`.
"""

from __future__ import annotations

import queue
from typing import Any

import numpy as np

from solvers.base import Progress, Result, Sense, SolutionStatus, Termination, relative_gap
from solvers.milp.schema import MilpModel, VarType
from solvers.runtime import improves_bound, improves_incumbent

#: An event a solver thread queues: ("incumbent" | "bound", objective or bound, values or None).
Event = tuple[str, float, Any]

#: Incumbent events carry the full solution only up to this many variables (else objective only).
INCUMBENT_SOLUTION_MAX_VARS = 200_000
#: A solve that stopped with |objective − bound| at most this (relative or absolute) counts as optimal; a
#: back-end's own objective figure must match the recomputed c·x + offset to the same tolerance.
OPTIMALITY_TOLERANCE = 1e-6
#: The back-ends' absolute feasibility tolerance (HiGHS' ``mip_feasibility_tolerance``, SCIP's ``feastol``):
#: integer bounds round inward only past it, ⌈lb − tol⌉ and ⌊ub + tol⌋, as HiGHS and SCIP round them.
FEASIBILITY_TOLERANCE = 1e-6


def objective_agrees(reported: float, recomputed: float) -> bool:
    """True when a back-end's own objective figure matches c·x + offset recomputed from its values."""
    return abs(reported - recomputed) <= OPTIMALITY_TOLERANCE * max(1.0, abs(recomputed))


def settled_objective(model: MilpModel, x: np.ndarray, reported: float, stats: dict[str, Any]) -> float:
    """The objective of values ``x`` recomputed from the model; a back-end figure that disagrees is kept in
    ``stats["objective_disagreement"]`` (and then :func:`finish_status` claims nothing)."""
    objective = model.objective_value(x)
    if not objective_agrees(reported, objective):
        stats["objective_disagreement"] = {"reported": reported, "recomputed": objective}
    return objective


def consistent_bound(sense: Sense, objective: float | None, bound: float | None) -> float | None:
    """``bound``, or None when it is better than the objective of a returned point (then it is no bound)."""
    if objective is None or bound is None:
        return bound
    slack = OPTIMALITY_TOLERANCE * max(1.0, abs(objective))
    contradicts = bound > objective + slack if sense == "minimize" else bound < objective - slack
    return None if contradicts else bound


def finish_status(
    objective: float | None, bound: float | None, stats: dict[str, Any] | None = None
) -> tuple[Termination, SolutionStatus]:
    """Termination and status of a solve the back-end reports as finished (optimal within its gap).

    ``optimal`` needs the recomputed objective to agree with the back-end's own (no
    ``objective_disagreement`` in ``stats``) and to meet the bound; a disagreement ends as ``feasible`` with
    termination ``other``.
    """
    if objective is None:
        return Termination.other, SolutionStatus.no_solution
    if stats is not None and "objective_disagreement" in stats:
        return Termination.other, SolutionStatus.feasible
    gap = relative_gap(objective, bound)
    if bound is None or gap is None or gap <= OPTIMALITY_TOLERANCE or abs(objective - bound) <= OPTIMALITY_TOLERANCE:
        return Termination.optimal, SolutionStatus.optimal
    return Termination.gap_limit, SolutionStatus.feasible


def solver_domains(model: MilpModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variable types and bounds as every back-end models them: a semi-continuous x ∈ {0} ∪ [lb, ub] is
    continuous on [lb, ub] when lb ≤ 0 (0 lies inside), fixed at 0 when lb > ub (only 0 is left), and
    semi-continuous only when 0 < lb ≤ ub."""
    types, lb, ub = model.var_types.copy(), model.lb.copy(), model.ub.copy()
    semi = types == VarType.semicontinuous
    only_zero = semi & (lb > ub)
    lb[only_zero] = ub[only_zero] = 0.0
    types[semi & (lb <= 0)] = VarType.continuous
    return types, lb, ub


def _first(names: list[str], mask: np.ndarray) -> str:
    return names[int(np.flatnonzero(mask)[0])]


def infeasibility_by_bounds(model: MilpModel) -> str | None:
    """Why no point can satisfy the bounds alone, or None: a variable with no (integer) value in its
    bounds, a row with lb > ub, a bound of +inf on the lower or −inf on the upper side, or an empty row
    whose activity 0 lies outside its bounds (beyond the back-ends' absolute tolerance)."""
    types, lb, ub = solver_domains(model)
    is_int = types == VarType.integer
    lb[is_int] = np.ceil(lb[is_int] - FEASIBILITY_TOLERANCE)
    ub[is_int] = np.floor(ub[is_int] + FEASIBILITY_TOLERANCE)
    impossible = (lb == np.inf) | (ub == -np.inf)
    if impossible.any():
        name = _first(model.var_names, impossible)
        return f"variable {name!r} has a bound of infinite magnitude (≥ 1e20) on the impossible side"
    if np.any(lb > ub):
        j = int(np.flatnonzero(lb > ub)[0])
        value = "integer value" if is_int[j] else "value"
        return f"variable {model.var_names[j]!r} has no {value} in [{model.lb[j]:g}, {model.ub[j]:g}]"
    row_lb, row_ub = model.row_lb, model.row_ub
    impossible = (row_lb == np.inf) | (row_ub == -np.inf)
    if impossible.any():
        name = _first(model.row_names, impossible)
        return f"row {name!r} has a bound of infinite magnitude (≥ 1e20) on the impossible side"
    if np.any(row_lb > row_ub):
        return f"row {_first(model.row_names, row_lb > row_ub)!r} has lower bound > upper bound"
    empty = np.diff(model.matrix.indptr) == 0
    unmet = empty & ((row_lb > FEASIBILITY_TOLERANCE) | (row_ub < -FEASIBILITY_TOLERANCE))
    if unmet.any():
        return f"row {_first(model.row_names, unmet)!r} has no terms and its bounds exclude 0"
    return None


def infeasible_by_bounds(model: MilpModel) -> Result | None:
    """An infeasible Result when :func:`infeasibility_by_bounds` finds a reason, so no back-end needs to run."""
    reason = infeasibility_by_bounds(model)
    if reason is None:
        return None
    return Result(SolutionStatus.infeasible, Termination.infeasible, stats={"reason": reason})


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
        """Forward every queued improvement, mapping solver units back: value / scale + offset. An incumbent
        that comes with its values is reported with the objective recomputed from them."""
        while True:
            try:
                what, value, values = self.events.get_nowait()
            except queue.Empty:
                return
            value = value / self.objective_scale + self.objective_offset
            if what == "incumbent" and values is not None:
                value = self.model.objective_value(np.asarray(values, dtype=float))
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
