"""The solve process: reads one job spec on stdin, solves it (or checks a solution), writes JSON-line messages.

It is a child forked by the pool process's template (``workers.template``), which has already imported
every kind and solver library (``preload_kinds``); its stdin, stdout and stderr are pipes of the runner.

Protocol (one JSON object per line on the message channel, the original stdout):
``{"t": "incumbent", "objective", "solution", "elapsed_s"}``, ``{"t": "bound", "bound", "elapsed_s"}``,
``{"t": "log", "message"}``, then exactly one of ``{"t": "result", ...}`` or ``{"t": "error", "code", "message"}``.
After the spec, each further stdin line ``cancel`` sets the solver's Cancel flag.
A spec ``{"t": "check", "kind", "options", "instance", "solution"}`` instead runs the kind's check and answers
``{"t": "verification", "feasible", "objective", "max_violation", "checked_by", "message"}`` (or an error).
Native libraries that print to stdout are sent to stderr, so they cannot corrupt the channel.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pkgutil
import sys
import threading
import time
import traceback
from functools import cache
from typing import IO, Any, NoReturn

from solvers.base import InvalidInstance, SolverRefused, SolverSpec
from solvers.registry import KIND_MODULES, get_kind


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class ChannelProgress:
    """A Progress writing to the message channel."""

    def __init__(self, channel: IO[str], started: float) -> None:
        self.channel = channel
        self.started = started
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, allow_nan=False)
        with self.lock:
            self.channel.write(line + "\n")
            self.channel.flush()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 4)

    def incumbent(self, objective: float, solution: dict[str, Any] | None = None) -> None:
        self.send(
            {
                "t": "incumbent",
                "objective": _finite(objective),
                "solution": solution,
                "elapsed_s": self.elapsed(),
            }
        )

    def bound(self, bound: float) -> None:
        if _finite(bound) is not None:
            self.send({"t": "bound", "bound": bound, "elapsed_s": self.elapsed()})

    def log(self, message: str) -> None:
        self.send({"t": "log", "message": message[:2000]})


class StdinCancel:
    """Set when the parent writes ``cancel`` on stdin (or closes it)."""

    def __init__(self, stream: IO[str]) -> None:
        self.event = threading.Event()
        threading.Thread(target=self._watch, args=(stream,), daemon=True).start()

    def _watch(self, stream: IO[str]) -> None:
        for line in stream:
            if line.strip() == "cancel":
                self.event.set()
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


@cache
def solver_version(solver_spec: SolverSpec) -> str:
    """The solver's ``library version`` (read from the installed distributions once, in the template)."""
    return solver_spec.version()


def preload_kinds() -> None:
    """Import every kind, every module of its package and its solver libraries, read the solvers'
    versions and call each solver module's ``preload()`` where it has one, before any job arrives (in the
    template, once): what a child would otherwise import or read lazily, it would import (and compile) or
    read again for every job. Trainers (``*.train``) are left out."""
    for name in KIND_MODULES:
        try:
            kind_module = importlib.import_module(KIND_MODULES[name])
            if hasattr(kind_module, "__path__"):
                for module in pkgutil.walk_packages(kind_module.__path__, kind_module.__name__ + "."):
                    if not module.name.endswith(".train"):
                        importlib.import_module(module.name)
            for solver_spec in get_kind(name).solvers.values():
                solver_module = importlib.import_module(solver_spec.target.partition(":")[0])
                solver_version(solver_spec)
                preload = getattr(solver_module, "preload", None)
                if callable(preload):  # e.g. a learned solver's committed weights, read once here
                    preload()
        except Exception:
            traceback.print_exc()


def _solve(spec: dict[str, Any], progress: ChannelProgress, cancel: StdinCancel) -> None:
    kind = get_kind(spec["kind"])
    instance = kind.parse(spec["instance"])
    solver_spec = kind.solver(spec["solver"], instance)
    options = solver_spec.options.model_validate(spec["options"])
    solver = solver_spec.load()
    result = solver.solve(instance, options, progress, cancel)
    stats = {
        **result.stats,
        "solve_time_s": progress.elapsed(),
        "solver_name": solver_spec.name,
        "solver_version": solver_version(solver_spec),
    }
    progress.send(
        {
            "t": "result",
            "status": str(result.status),
            "termination": str(result.termination),
            "objective": _finite(result.objective),
            "bound": _finite(result.bound),
            "solution": result.solution,
            "stats": stats,
        }
    )


def _check(spec: dict[str, Any], progress: ChannelProgress) -> None:
    kind = get_kind(spec["kind"])
    verification = kind.verify(kind.parse(spec["instance"]), spec["solution"], spec["options"]).as_dict()
    objective, violation = verification.get("objective"), verification.get("max_violation")
    verification["objective"] = _finite(objective) if isinstance(objective, (int, float)) else None
    verification["max_violation"] = _finite(violation) if isinstance(violation, (int, float)) else None
    progress.send({"t": "verification", **verification})


def main() -> NoReturn:
    """Run one solve (or one check) as described by the spec on stdin, then end the process."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    line = sys.stdin.readline()
    if not line:
        os._exit(0)  # the runner gave up before sending the job
    started = time.monotonic()
    progress = ChannelProgress(channel, started)
    spec = json.loads(line)
    cancel = StdinCancel(sys.stdin)
    try:
        if spec.get("t") == "check":
            _check(spec, progress)
        else:
            _solve(spec, progress, cancel)
    except MemoryError:
        what = "check" if spec.get("t") == "check" else "solve"
        progress.send({"t": "error", "code": "memory_limit", "message": f"the {what} ran out of its memory limit"})
    except InvalidInstance as exc:
        progress.send({"t": "error", "code": "invalid_instance", "message": str(exc)[:4000]})
    except SolverRefused as exc:
        progress.send({"t": "error", "code": "solver_refused", "message": str(exc)[:4000]})
    except Exception as exc:
        traceback.print_exc()
        progress.send({"t": "error", "code": "solver_error", "message": f"{type(exc).__name__}: {exc}"[:4000]})
    channel.flush()
    sys.stderr.flush()
    # Never return into the template's code; and skip interpreter teardown (about a second with native
    # solver libraries loaded).
    os._exit(0)
