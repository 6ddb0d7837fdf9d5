"""A fake kind behind the real solver interface, for service and chaos tests.

Its single solver counts through ``steps`` incumbents, ``seconds`` apart, and misbehaves on demand
(``mode``): crash the process, eat memory, return a wrong answer, ignore its time limit or cancel.
Its check can be slow (``check_seconds``) or eat memory (``check="hungry"``). The solver's stats
report the threads it was given and which ``SOLVENT_*`` settings its process can see.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import numpy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solvers.base import (
    JSON,
    Cancel,
    CommonOptions,
    InvalidInstance,
    Kind,
    Progress,
    Result,
    SolutionStatus,
    SolverSpec,
    Termination,
    Verification,
    errors_from_validation,
)


class FakeInstance(BaseModel):
    """How long and how the fake solve behaves."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(3, ge=0, le=100_000)
    seconds: float = Field(0.1, ge=0, le=60)
    mode: Literal["normal", "crash", "memory", "wrong", "ignore_limit", "ignore_cancel", "marker"] = "normal"
    marker_dir: str | None = None
    check: Literal["fast", "hungry"] = "fast"
    check_seconds: float = Field(0.0, ge=0, le=60)


class FakeOptions(CommonOptions):
    """The common options only."""


def parse(raw: Any) -> FakeInstance:
    try:
        return FakeInstance.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInstance(errors_from_validation(exc)) from exc


def check(instance: FakeInstance, solution: JSON) -> Verification:
    time.sleep(instance.check_seconds)
    if instance.check == "hungry":  # address space, untouched: only a limit makes this fail
        hog = [numpy.zeros(64 * 1024 * 1024, dtype=numpy.uint8) for _ in range(64)]
        del hog
    reached = solution.get("reached")
    if isinstance(reached, int) and 0 <= reached <= instance.steps:
        return Verification(True, float(reached), 0.0, "fake.check")
    return Verification(False, None, 1.0, "fake.check")


class FakeSolver:
    name = "count"
    exact = True
    learned = False
    Options = FakeOptions

    def solve(self, instance: FakeInstance, options: FakeOptions, progress: Progress, cancel: Cancel) -> Result:
        if instance.mode == "marker" and instance.marker_dir:
            with open(os.path.join(instance.marker_dir, f"{os.getpid()}-{time.time_ns()}"), "w") as f:
                f.write("ran")
        start = time.monotonic()
        if instance.mode == "crash":
            os.kill(os.getpid(), 9)
        if instance.mode == "memory":
            hog = []
            while True:
                hog.append(bytearray(50 * 1024 * 1024))
        reached = 0
        termination = Termination.optimal
        progress.bound(float(instance.steps))
        for step in range(1, instance.steps + 1):
            if cancel.is_set() and instance.mode != "ignore_cancel":
                termination = Termination.cancelled
                break
            if time.monotonic() - start > options.time_limit_s and instance.mode != "ignore_limit":
                termination = Termination.time_limit
                break
            time.sleep(instance.seconds)
            reached = step
            progress.incumbent(float(reached), {"reached": reached})
        objective = float(reached) + (1000.0 if instance.mode == "wrong" else 0.0)
        status = SolutionStatus.optimal if termination == Termination.optimal else SolutionStatus.feasible
        stats = {"threads": options.threads, "settings_seen": sorted(k for k in os.environ if k.startswith("SOLVENT_"))}
        return Result(status, termination, objective, float(instance.steps), {"reached": reached}, stats)


KIND = Kind(
    name="fake",
    title="Fake",
    description="Test kind.",
    sense="maximize",
    parse=parse,
    check=check,
    summary=lambda inst: {"steps": inst.steps},
    solvers={"count": SolverSpec("count", True, False, "counts", FakeOptions, "tests.fake_kind:FakeSolver")},
    default_solver="count",
    instance_schema=FakeInstance.model_json_schema(),
    result_schema={"type": "object"},
    example={"steps": 3, "seconds": 0.1},
)
