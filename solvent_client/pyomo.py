"""Solve Pyomo models on a Solvent server: ``SolverFactory("solvent")`` once this module is imported.

As Pyomo's NEOS solver manager does, the model is written with Pyomo's own LP writer, sent as a ``milp``
job, waited for, and the values come back into the model's variables; ``solve`` returns Pyomo's results
object with Solvent's termination mapped onto Pyomo's. Needs the ``pyomo`` extra (``pip install
'solvent[pyomo]'``)::

    import pyomo.environ as pyo
    import solvent_client.pyomo  # registers "solvent"

    opt = pyo.SolverFactory("solvent", url="http://127.0.0.1:8000", key="slv_…", solver="highs")
    results = opt.solve(model, timelimit=60)
    assert pyo.check_optimal_termination(results)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pyomo.common.collections import Bunch
from pyomo.core.base.objective import Objective, maximize, minimize
from pyomo.core.base.var import VarData
from pyomo.opt import SolverFactory, SolverResults, SolverStatus, TerminationCondition

from solvent_client.client import Client, Job

#: Solvent's termination -> Pyomo's termination condition and solver status.
TERMINATIONS: dict[str, tuple[TerminationCondition, SolverStatus]] = {
    "optimal": (TerminationCondition.optimal, SolverStatus.ok),
    "gap_limit": (TerminationCondition.optimal, SolverStatus.ok),  # optimal within the requested rel_gap
    "time_limit": (TerminationCondition.maxTimeLimit, SolverStatus.aborted),
    "iteration_limit": (TerminationCondition.maxIterations, SolverStatus.aborted),
    "cancelled": (TerminationCondition.userInterrupt, SolverStatus.aborted),
    "infeasible": (TerminationCondition.infeasible, SolverStatus.warning),
    "unbounded": (TerminationCondition.unbounded, SolverStatus.warning),
    "other": (TerminationCondition.other, SolverStatus.unknown),
}


@SolverFactory.register("solvent", doc="Solve on a Solvent server (kind milp) with any of its solvers.")
class SolventSolver:
    """Pyomo's solver interface over a Solvent server.

    Keywords: ``url`` and ``key`` (default: SOLVENT_URL and SOLVENT_KEY), ``solver`` (Solvent's solver,
    default ``auto``; ``SolverFactory("solvent:scip")`` says the same), ``wait_timeout`` (seconds to wait
    for the job; default: no limit). ``options`` (``opt.options[...]`` or ``solve(options=…)``) are
    Solvent's solver options, e.g. ``rel_gap``; ``solve(timelimit=…)`` is its ``time_limit_s``.
    """

    def __init__(self, **kwds: Any) -> None:
        self.name = "solvent"
        self.url: str | None = kwds.pop("url", None)
        self.key: str | None = kwds.pop("key", None)
        self.solver: str = kwds.pop("solver", "auto")
        self.wait_timeout: float | None = kwds.pop("wait_timeout", None)
        self.options = Bunch(**kwds.pop("options", {}))
        self.last_job: Job | None = None

    def set_options(self, settings: str | dict[str, Any]) -> None:
        """Pyomo's option strings (``"solver=highs rel_gap=0.01"``) or a dict; ``solver`` picks Solvent's solver."""
        pairs = dict(item.split("=", 1) for item in settings.split()) if isinstance(settings, str) else settings
        for name, value in pairs.items():
            if name == "solver":
                self.solver = str(value)
            else:
                self.options[name] = _number_or_text(value)

    def available(self, exception_flag: bool = True) -> bool:
        """A remote solver is always there to try; connection errors surface in ``solve``."""
        return True

    def license_is_valid(self) -> bool:
        return True

    def version(self) -> tuple[int, ...]:
        return (1, 0, 0)

    def warm_start_capable(self) -> bool:
        return False

    def __enter__(self) -> SolventSolver:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def solve(self, model: Any, **kwds: Any) -> SolverResults:
        """Send ``model`` as a milp job, wait, load the values (``load_solutions``) and return the results."""
        tee = bool(kwds.pop("tee", False))
        load_solutions = bool(kwds.pop("load_solutions", True))
        options = {**self.options, **kwds.pop("options", {})}
        timelimit = kwds.pop("timelimit", None)
        if timelimit is not None:
            options["time_limit_s"] = float(timelimit)
        kwds.pop("symbolic_solver_labels", None)  # labels never reach the user: values go back by the symbol map
        if kwds:
            raise ValueError(f"solver 'solvent' does not take {', '.join(sorted(kwds))}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.lp"
            _, symbol_map_id = model.write(str(path), io_options={"symbolic_solver_labels": False})
            symbol_map = model.solutions.symbol_map[symbol_map_id]
            text = path.read_text()
        with Client(self.url, self.key) as client:
            job = client.submit(
                "milp",
                {"format": "lp", "model": text},
                solver=self.solver,
                options=options,
                metadata={"pyomo_model": str(model.name)},
            )
            self.last_job = job
            if tee:
                print(f"solvent: job {job.id} on {client.url} ({job.solver})")
            job.wait(self.wait_timeout, progress=_print_progress if tee else None)
            answer = job.result() if job.status != "failed" else None
        results = _results(model, job, answer, time.monotonic() - started)
        if answer is not None and load_solutions and answer.status in ("optimal", "feasible"):
            values = answer.solution.get("values", {})
            for label, component in symbol_map.bySymbol.items():
                if isinstance(component, VarData) and label in values:
                    component.set_value(values[label], skip_validation=True)
        return results


def _results(model: Any, job: Job, answer: Any, wall_time: float) -> SolverResults:
    """Pyomo's results object for a finished job."""
    results = SolverResults()
    results.solver.name = f"solvent/{job.solver}"
    results.solver.wallclock_time = wall_time
    results.problem.name = str(model.name)
    if answer is None:
        error = job.data.get("error") or {}
        results.solver.status = SolverStatus.error
        results.solver.termination_condition = TerminationCondition.error
        results.solver.message = f"job {job.id} failed ({error.get('code')}): {error.get('message')}"
        return results
    condition, status = TERMINATIONS.get(answer.termination, TERMINATIONS["other"])
    results.solver.termination_condition = condition
    results.solver.status = status
    results.solver.message = f"job {job.id}: {answer.status} ({answer.termination})"
    objectives = list(model.component_data_objects(ctype=Objective, active=True))
    minimizing = not objectives or objectives[0].sense == minimize
    results.problem.sense = minimize if minimizing else maximize
    primal, dual = ("upper_bound", "lower_bound") if minimizing else ("lower_bound", "upper_bound")
    if answer.objective is not None:
        setattr(results.problem, primal, answer.objective)
    if answer.bound is not None:
        setattr(results.problem, dual, answer.bound)
    return results


def _number_or_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        return value


def _print_progress(job: Job) -> None:
    progress = job.progress
    shown = ", ".join(f"{k} {v:.6g}" for k, v in progress.items() if isinstance(v, (int, float)))
    print(f"solvent: {job.status} {shown}")
