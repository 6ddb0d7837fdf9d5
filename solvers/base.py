"""The solver contract: kinds, solvers, results, progress and cancellation.

Everything in ``solvers/`` is a pure library: no HTTP, no database, no Celery. A *kind* (``milp``,
``treemap``…) owns its instance model, its parsers, an independent ``check`` and an ordered set of
solvers. A *solver* turns a parsed instance into a :class:`Result`.

Contract for a solver's ``solve(instance, options, progress, cancel)``:

* ``instance`` is what the kind's ``parse`` returned; ``options`` an instance of the solver's
  ``Options`` model (a subclass of :class:`CommonOptions`, ``extra="forbid"``).
* It honours ``options.time_limit_s`` itself (native limit or a clock check in its loop) and polls
  ``cancel.is_set()`` often enough to stop within about a second. The service's hard kill is only a
  backstop, and a killed solve keeps only what was reported through ``progress``.
* It reports every improving incumbent with ``progress.incumbent(objective, solution)`` (solution may
  be ``None`` when building it is expensive; the last non-``None`` one is kept as the best answer
  found if the solve is killed) and every improved proven bound with ``progress.bound(bound)``.
* It returns a :class:`Result` whose ``termination`` says why it stopped and whose ``status`` says how
  good the answer is. It never claims feasibility itself: the service runs the kind's ``check`` on
  the returned solution and stores that verification next to the result.
* It raises :class:`SolverRefused` when it cannot take this instance (e.g. CP-SAT with non-integral
  data); any other exception is a solver error.
* Its clock and cancel flag are one :class:`solvers.runtime.Deadline`; a blocking native solve runs under
  :func:`solvers.runtime.run_polling_cancel`.

Folder vocabulary: every ``solvers/<kind>/`` names the same roles the same way.

* ``__init__.py``: ``KIND``, the :class:`Kind` and its :class:`SolverSpec` s (solver classes named by a
  ``"module:Class"`` string, so importing a kind loads no solver code).
* ``schema.py``: size caps, the raw JSON models, the parsed instance, the solution model, ``parse`` and
  ``summary``.
* ``<format>_format.py``: one module per text form (``mps_format``, ``lp_format``, ``csv_format``,
  ``ad_format``); ``schema.parse`` imports it when that form is submitted.
* ``options.py``: each solver's ``Options``.
* ``check.py`` (its own helpers ``check_*.py``): the independent check, importing nothing of the solvers.
* ``<solver>.py``: one module per solver, named after it; helpers that several of the kind's solvers share
  are modules named for what they hold (``outcome.py``, ``evaluation.py``, ``geometry.py``…).
* ``learned/``: a solver with committed weights: ``solver.py`` (inference, numpy only), ``options.py``,
  ``network.py``, ``train.py`` (the trainer ``solvent train <kind>`` runs) and the weights. A solver that
  trains per job (``xva``'s ``deep_bsde``) has no weights and is one ``<solver>.py``.
* ``generate.py``: seeded instance generators; ``svg.py``: the picture of a solution (where the kind has one).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

JSON = dict[str, Any]
Sense = Literal["minimize", "maximize"]


class Termination(StrEnum):
    """Why a solver stopped (kept apart from how good the answer is, as Pyomo does)."""

    optimal = "optimal"
    gap_limit = "gap_limit"
    time_limit = "time_limit"
    cancelled = "cancelled"
    infeasible = "infeasible"
    unbounded = "unbounded"
    iteration_limit = "iteration_limit"
    other = "other"


class SolutionStatus(StrEnum):
    """How good the returned answer is."""

    optimal = "optimal"
    feasible = "feasible"
    infeasible = "infeasible"
    unbounded = "unbounded"
    no_solution = "no_solution"


class CommonOptions(BaseModel):
    """Options every solver accepts; a solver's own ``Options`` subclasses this."""

    model_config = ConfigDict(extra="forbid")

    #: Common options this solver has no use for; a request that sets one is refused rather than ignored.
    unused_common: ClassVar[frozenset[str]] = frozenset()

    time_limit_s: float = Field(60.0, gt=0, le=86_400, description="Wall-clock limit for the solve.")
    rel_gap: float = Field(1e-4, ge=0, le=1, description="Stop when the relative gap is at most this.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed for reproducible runs.")
    threads: int = Field(1, ge=1, le=64, description="Threads the solver may use.")


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective − bound| / max(|objective|, 1e-10), or None when either is missing."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-10)


@dataclass
class Result:
    """What a solver returns: why it stopped, how good the answer is, and the answer."""

    status: SolutionStatus
    termination: Termination
    objective: float | None = None
    bound: float | None = None
    solution: JSON | None = None
    stats: JSON = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound, as API.md defines it."""
        return relative_gap(self.objective, self.bound)


@dataclass
class Verification:
    """An independent check of a solution against its instance."""

    feasible: bool
    objective: float | None
    max_violation: float
    checked_by: str
    message: str = ""

    def as_dict(self) -> JSON:
        """The JSON form stored in results."""
        return {
            "feasible": self.feasible,
            "objective": self.objective,
            "max_violation": self.max_violation,
            "checked_by": self.checked_by,
            "message": self.message,
        }


class Progress(Protocol):
    """Where a solver reports incumbents, bounds and log lines as it runs."""

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        """An improving feasible solution was found."""

    def bound(self, bound: float) -> None:
        """An improved proven bound on the optimum."""

    def log(self, message: str) -> None:
        """A free-form line for the job's event log."""


@runtime_checkable
class Cancel(Protocol):
    """A flag the solver polls; set when the client cancels the job."""

    def is_set(self) -> bool:
        """True once cancellation was requested."""
        ...


class NullProgress:
    """A Progress that records what it is told (for shells, tests and benchmarks)."""

    def __init__(self) -> None:
        self.incumbents: list[float] = []
        self.bounds: list[float] = []
        self.lines: list[str] = []
        self.best_solution: JSON | None = None

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        self.incumbents.append(objective)
        if solution is not None:
            self.best_solution = solution

    def bound(self, bound: float) -> None:
        self.bounds.append(bound)

    def log(self, message: str) -> None:
        self.lines.append(message)


class NeverCancel:
    """A Cancel that is never set."""

    def is_set(self) -> bool:
        return False


class Solver(Protocol):
    """A solver of one kind. See the module docstring for the full contract. Whether it is exact or learned is
    declared once, on its :class:`SolverSpec`."""

    name: str
    Options: type[CommonOptions]

    def solve(self, instance: Any, options: Any, progress: Progress, cancel: Cancel) -> Result:
        """Solve ``instance`` within ``options.time_limit_s``."""
        ...


class SolverRefused(Exception):
    """The solver cannot take this instance (reported to the user as a solver error with this text)."""


class InvalidInstance(Exception):
    """An instance failed validation; ``errors`` lists every problem with its location."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], title: str = "Invalid instance") -> None:
        self.errors: list[JSON] = [{"loc": list(e.get("loc", [])), "msg": str(e.get("msg", ""))} for e in errors]
        super().__init__(title + ": " + "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in self.errors))
        self.title = title


def errors_from_validation(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[JSON]:
    """Turn a pydantic ValidationError into API.md's ``[{"loc", "msg"}]`` list."""
    out: list[JSON] = []
    for err in exc.errors(include_url=False):
        out.append({"loc": [*prefix, *err["loc"]], "msg": err["msg"]})
    return out


@dataclass(frozen=True)
class SolverSpec:
    """Declares a solver without importing its native code; ``target`` is ``module:Class``."""

    name: str
    exact: bool
    learned: bool
    description: str
    options: type[CommonOptions]
    target: str
    #: The distribution whose version a result reports as ``stats.solver_version`` (e.g. "highspy");
    #: None for a solver written in this project, which reports the project's version.
    library: str | None = None
    #: A learned solver's trainer: the module whose ``main(argv)`` reproduces its committed weights
    #: (``solvent train <kind>`` runs it; at most one solver of a kind has one).
    trainer: str | None = None

    def version(self) -> str:
        """``library version`` of the code that solves, e.g. "highspy 1.16.0" or "solvent 0.1.0"."""
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        name = self.library or "solvent"
        try:
            return f"{name} {installed(name)}"
        except PackageNotFoundError:
            return f"{name} (version unknown)"

    def load(self) -> Solver:
        """Import and instantiate the solver (only the worker's child process does this)."""
        module_name, _, class_name = self.target.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        solver: Solver = cls()
        return solver


@dataclass(frozen=True)
class Kind:
    """A problem kind: its instance parser, independent checker, solvers and documentation."""

    name: str
    title: str
    description: str
    sense: Sense
    parse: Callable[[Any], Any]
    check: Callable[[Any, JSON], Verification]
    summary: Callable[[Any], JSON]
    solvers: Mapping[str, SolverSpec]
    default_solver: str
    instance_schema: JSON
    result_schema: JSON
    example: JSON
    render_svg: Callable[[Any, JSON], str] | None = None
    choose_auto: Callable[[Any], str] | None = None
    #: Why the named solver cannot take this instance, or None; lets the service refuse at submission.
    refusal: Callable[[Any, str], str | None] | None = None
    #: A check that also reads the request's solver options (treemap: the requested area slack); when set,
    #: the service verifies with it instead of ``check``.
    check_with_options: Callable[[Any, JSON, JSON], Verification] | None = None

    def verify(self, instance: Any, solution: JSON, options: JSON) -> Verification:
        """The check of a job's solution against its instance and the request's solver options."""
        if self.check_with_options is not None:
            return self.check_with_options(instance, solution, options)
        return self.check(instance, solution)

    def solver(self, name: str, instance: Any = None) -> SolverSpec:
        """The named solver; ``auto`` is chosen from the instance where the kind has a rule, else the default.

        Raises KeyError for an unknown name.
        """
        if name == "auto":
            if self.choose_auto is not None and instance is not None:
                return self.solvers[self.choose_auto(instance)]
            return self.solvers[self.default_solver]
        return self.solvers[name]
