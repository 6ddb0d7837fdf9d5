"""The three back-ends agree on optima, report infeasible/unbounded, honour limits and cancel, or refuse."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from solvers.base import NeverCancel, NullProgress, Result, SolutionStatus, Solver, SolverRefused, Termination
from solvers.milp import KIND
from solvers.milp.generate import generate
from solvers.milp.scaling import row_scales
from solvers.milp.schema import MilpModel

from .conftest import DEV_OPTIMA

BACKENDS: dict[str, Solver] = {name: spec.load() for name, spec in KIND.solvers.items()}

SMALL_GENERATED = {
    "set_cover": {"rows": 60, "columns": 120, "density": 0.08},
    "combinatorial_auction": {"items": 20, "bids": 80},
    "facility_location": {"customers": 12, "facilities": 5},
    "facility_location_single_source": {"customers": 12, "facilities": 5, "single_source": True},
    "independent_set": {"nodes": 60},
}


def generated(name: str, seed: int) -> MilpModel:
    family = name.removesuffix("_single_source")
    model: MilpModel = KIND.parse(generate(seed, family, **SMALL_GENERATED[name]))  # type: ignore[arg-type]
    return model


def solve(solver: str, model: MilpModel, **options: Any) -> tuple[Result, NullProgress]:
    backend = BACKENDS[solver]
    progress = NullProgress()
    options.setdefault("time_limit_s", 30)
    result = backend.solve(model, backend.Options(**options), progress, NeverCancel())
    return result, progress


def assert_verified_optimum(model: MilpModel, result: Result, expected: float) -> None:
    assert result.status is SolutionStatus.optimal, result
    assert result.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    verification = KIND.check(model, result.solution or {})
    assert verification.feasible, verification.message
    assert verification.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)


def assert_progress_is_monotone(model: MilpModel, result: Result, progress: NullProgress) -> None:
    def better(a: float, b: float) -> bool:
        return a <= b + 1e-9 if model.sense == "minimize" else a >= b - 1e-9

    assert all(better(b, a) for a, b in zip(progress.incumbents, progress.incumbents[1:], strict=False))
    assert all(better(a, b) for a, b in zip(progress.bounds, progress.bounds[1:], strict=False))
    if progress.incumbents and result.objective is not None:
        assert progress.incumbents[-1] == pytest.approx(result.objective, rel=1e-9, abs=1e-9)
    if progress.best_solution is not None:
        assert KIND.check(model, progress.best_solution).feasible
    assert progress.lines and result.termination.value in progress.lines[-1]


@pytest.mark.parametrize("name", sorted(DEV_OPTIMA))
@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_general_backends_reach_the_known_optimum_of_development_files(load_dev: Any, name: str, solver: str) -> None:
    model = load_dev(name)
    result, progress = solve(solver, model, rel_gap=0.0)
    assert_verified_optimum(model, result, DEV_OPTIMA[name])
    assert_progress_is_monotone(model, result, progress)


@pytest.mark.parametrize("name", sorted(DEV_OPTIMA))
def test_cpsat_refuses_development_files_with_continuous_variables(load_dev: Any, name: str) -> None:
    with pytest.raises(SolverRefused, match="only integer variables"):
        solve("cpsat", load_dev(name))


@pytest.mark.parametrize("name", sorted(SMALL_GENERATED))
@pytest.mark.parametrize("seed", [0, 1])
def test_backends_agree_on_generated_instances(name: str, seed: int) -> None:
    model = generated(name, seed)
    reference, _ = solve("highs", model, rel_gap=0.0)
    assert reference.objective is not None
    taken = 0
    for solver in ("highs", "cpsat", "scip"):
        try:
            result, progress = solve(solver, model, rel_gap=0.0)
        except SolverRefused as refusal:
            assert solver == "cpsat" and model.num_continuous > 0, refusal
            continue
        taken += 1
        assert_verified_optimum(model, result, reference.objective)
        assert_progress_is_monotone(model, result, progress)
        assert result.bound == pytest.approx(reference.objective, rel=1e-6, abs=1e-6)
    assert taken >= 2


def _pure_integer(sense: str, constraints: list[dict[str, Any]], ub: float | None = 5) -> MilpModel:
    model: MilpModel = KIND.parse(
        {
            "format": "json",
            "sense": sense,
            "variables": [
                {"name": "x", "type": "integer", "lb": 0, "ub": ub, "obj": 1},
                {"name": "y", "type": "integer", "lb": 0, "ub": ub, "obj": 2},
            ],
            "constraints": constraints,
        }
    )
    return model


@pytest.mark.parametrize("solver", ["highs", "cpsat", "scip"])
def test_infeasible_is_reported_by_every_backend(solver: str) -> None:
    model = _pure_integer("minimize", [{"name": "odd", "terms": {"x": 2, "y": 4}, "lb": 3, "ub": 3}])
    result, _ = solve(solver, model)
    assert (result.status, result.termination) == (SolutionStatus.infeasible, Termination.infeasible)


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_unbounded_is_reported_by_general_backends(solver: str) -> None:
    model = _pure_integer("maximize", [{"name": "diff", "terms": {"x": 1, "y": -1}, "lb": None, "ub": 1}], ub=None)
    result, _ = solve(solver, model)
    assert (result.status, result.termination) == (SolutionStatus.unbounded, Termination.unbounded)
    assert result.objective is None and result.bound is None
    if result.solution is not None:  # a feasible point, where the back-end has one
        assert KIND.check(model, result.solution).feasible


def test_cpsat_refuses_infinite_bounds_with_the_variable_named() -> None:
    model = _pure_integer("maximize", [{"name": "diff", "terms": {"x": 1, "y": -1}, "lb": None, "ub": 1}], ub=None)
    with pytest.raises(SolverRefused, match=r"finite bounds.*'x'.*imply none"):
        solve("cpsat", model)


def test_cpsat_takes_integer_variables_whose_bounds_the_rows_imply() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "cap", "terms": {"x": 3, "y": 2}, "lb": None, "ub": 17},
        {"name": "floor", "terms": {"y": 1}, "lb": -3, "ub": None},
    ]
    model = _pure_integer("maximize", rows, ub=None)
    model.lb[1] = -math.inf
    reference, _ = solve("highs", model, rel_gap=0.0)
    result, _ = solve("cpsat", model, rel_gap=0.0)
    assert_verified_optimum(model, result, reference.objective or 0.0)
    assert KIND.solver("auto", model).name == "cpsat"


def test_cpsat_scales_decimal_data_exactly() -> None:
    model = _pure_integer("maximize", [{"name": "cap", "terms": {"x": 0.5, "y": 0.25}, "lb": None, "ub": 1.75}])
    model.obj[:] = [0.1, 0.03]
    reference, _ = solve("highs", model, rel_gap=0.0)
    result, _ = solve("cpsat", model, rel_gap=0.0)
    assert_verified_optimum(model, result, reference.objective or 0.0)
    assert result.stats["objective_scale"] == 100


def test_row_scales_are_the_smallest_powers_of_ten_that_make_rows_integral() -> None:
    model = _pure_integer(
        "minimize",
        [
            {"name": "quarters", "terms": {"x": 0.5, "y": 0.25}, "lb": None, "ub": 1},
            {"name": "third", "terms": {"x": 1 / 3, "y": 1}, "lb": None, "ub": 2},
            {"name": "whole", "terms": {"x": 2, "y": -3}, "lb": None, "ub": 2},
            {"name": "empty", "terms": {}, "lb": None, "ub": 2},
        ],
    )
    assert row_scales(model, 1e6).tolist() == [100, 0, 1, 1]
    assert row_scales(model, 10).tolist() == [0, 0, 1, 1]


def test_cpsat_refuses_data_that_no_allowed_scale_makes_integral() -> None:
    model = _pure_integer("maximize", [{"name": "third", "terms": {"x": 1 / 3, "y": 1}, "lb": None, "ub": 2}])
    with pytest.raises(SolverRefused, match=r"'third'.*not integral"):
        solve("cpsat", model)


def test_semicontinuous_variables_are_taken_by_highs_and_scip() -> None:
    model: MilpModel = KIND.parse(
        {
            "format": "json",
            "sense": "minimize",
            "variables": [
                {"name": "s", "type": "semicontinuous", "lb": 3, "ub": 8, "obj": 1},
                {"name": "y", "type": "continuous", "lb": 0, "ub": 10, "obj": 5},
            ],
            "constraints": [{"name": "need", "terms": {"s": 1, "y": 1}, "lb": 1, "ub": None}],
        }
    )
    for solver in ("highs", "scip"):
        result, _ = solve(solver, model, rel_gap=0.0)
        assert_verified_optimum(model, result, 3.0)  # s jumps to 3 rather than y = 1 at cost 5
    with pytest.raises(SolverRefused):
        solve("cpsat", model)


class _SetAfter:
    """A Cancel that becomes set some seconds after creation."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def is_set(self) -> bool:
        return time.monotonic() >= self.deadline


@pytest.mark.parametrize("solver", ["highs", "cpsat", "scip"])
def test_cancel_stops_every_backend_within_seconds(solver: str) -> None:
    model: MilpModel = KIND.parse(generate(5, "set_cover", rows=500, columns=1000, density=0.05))
    backend = BACKENDS[solver]
    progress = NullProgress()
    started = time.monotonic()
    result = backend.solve(model, backend.Options(time_limit_s=60, rel_gap=0.0), progress, _SetAfter(0.4))
    assert time.monotonic() - started < 6
    assert result.termination is Termination.cancelled
    if result.solution is not None:
        assert KIND.check(model, result.solution).feasible


@pytest.mark.parametrize("solver", ["highs", "cpsat", "scip"])
def test_time_limit_is_honoured_by_every_backend(solver: str) -> None:
    model: MilpModel = KIND.parse(generate(5, "set_cover", rows=500, columns=1000, density=0.05))
    backend = BACKENDS[solver]
    started = time.monotonic()
    result = backend.solve(model, backend.Options(time_limit_s=0.5, rel_gap=0.0), NullProgress(), NeverCancel())
    assert time.monotonic() - started < 6
    assert result.termination in (Termination.time_limit, Termination.optimal)
    if result.termination is Termination.time_limit and result.solution is not None:
        assert result.status is SolutionStatus.feasible and KIND.check(model, result.solution).feasible


@pytest.mark.parametrize("solver", ["highs", "cpsat", "scip"])
def test_rel_gap_stops_early_with_the_gap_reported(solver: str) -> None:
    model: MilpModel = KIND.parse(generate(5, "set_cover", rows=300, columns=600, density=0.05))
    result, _ = solve(solver, model, rel_gap=0.25)
    assert result.termination in (Termination.gap_limit, Termination.optimal)
    assert result.gap is not None and result.gap <= 0.25 + 1e-9
    if result.termination is Termination.gap_limit:
        assert result.status is SolutionStatus.feasible and result.gap > 1e-6
    assert KIND.check(model, result.solution or {}).feasible
