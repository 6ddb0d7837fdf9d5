"""The HiGHS back-end: development optima, LP, infeasible/unbounded, progress, limits and cancel."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.milp import KIND
from solvers.milp.highs import HighsSolver
from solvers.milp.options import HighsOptions

from .conftest import DEV_OPTIMA

highs = KIND.solvers["highs"].load()


@pytest.mark.parametrize("name", sorted(DEV_OPTIMA))
def test_development_files_solve_to_their_known_optimum(load_dev: Any, name: str) -> None:
    model = load_dev(name)
    progress = NullProgress()
    result = highs.solve(model, HighsOptions(rel_gap=0.0), progress, NeverCancel())
    assert result.status is SolutionStatus.optimal and result.termination is Termination.optimal
    assert result.objective == pytest.approx(DEV_OPTIMA[name], rel=1e-7)
    verification = KIND.check(model, result.solution or {})
    assert verification.feasible, verification.message
    assert verification.objective == pytest.approx(DEV_OPTIMA[name], rel=1e-7)
    # LPs too: the final answer and bound are reported as events when the callbacks did not.
    assert progress.incumbents and progress.incumbents[-1] == pytest.approx(result.objective)
    assert progress.bounds and progress.bounds[-1] == pytest.approx(result.objective)


def test_maximisation_reports_bounds_from_above() -> None:
    model = KIND.parse(KIND.example)
    progress = NullProgress()
    result = highs.solve(model, HighsOptions(), progress, NeverCancel())
    assert result.objective == pytest.approx(21.0) and result.status is SolutionStatus.optimal
    assert all(b >= 21.0 - 1e-9 for b in progress.bounds)
    assert KIND.check(model, result.solution or {}).feasible


def _two_vars(sense: str, x_type: str, constraints: list[dict[str, Any]], ub: float | None = None) -> Any:
    return KIND.parse(
        {
            "format": "json",
            "sense": sense,
            "variables": [
                {"name": "x", "type": x_type, "lb": 0, "ub": ub, "obj": 1},
                {"name": "y", "type": "continuous", "lb": 0, "ub": None, "obj": 1},
            ],
            "constraints": constraints,
        }
    )


@pytest.mark.parametrize("x_type", ["continuous", "integer"])
def test_infeasible_model_is_reported_infeasible(x_type: str) -> None:
    model = _two_vars("minimize", x_type, [{"name": "c", "terms": {"x": 1, "y": 1}, "lb": None, "ub": -1}])
    result = highs.solve(model, HighsOptions(), NullProgress(), NeverCancel())
    assert (result.status, result.termination) == (SolutionStatus.infeasible, Termination.infeasible)


@pytest.mark.parametrize("x_type", ["continuous", "integer"])
def test_unbounded_model_is_reported_unbounded(x_type: str) -> None:
    model = _two_vars("maximize", x_type, [{"name": "c", "terms": {"x": 1, "y": -1}, "lb": None, "ub": 2}])
    result = highs.solve(model, HighsOptions(), NullProgress(), NeverCancel())
    assert (result.status, result.termination) == (SolutionStatus.unbounded, Termination.unbounded)


def test_inconsistent_bounds_are_infeasible_without_solving() -> None:
    model = _two_vars("minimize", "integer", [], ub=None)
    model.lb[0], model.ub[0] = 0.2, 0.8  # no integer inside
    result = highs.solve(model, HighsOptions(), NullProgress(), NeverCancel())
    assert result.status is SolutionStatus.infeasible


def _hard_model() -> Any:
    from solvers.milp.generate import generate

    return KIND.parse(generate(3, family="set_cover", size=400))


class _SetAfter:
    """A Cancel that becomes set some seconds after creation."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def is_set(self) -> bool:
        return time.monotonic() >= self.deadline


def test_cancel_stops_the_solve_and_keeps_the_incumbent() -> None:
    model = _hard_model()
    progress = NullProgress()
    started = time.monotonic()
    result = highs.solve(model, HighsOptions(rel_gap=0.0, time_limit_s=30), progress, _SetAfter(0.5))
    assert time.monotonic() - started < 5
    assert result.termination is Termination.cancelled
    if result.solution is not None:
        assert KIND.check(model, result.solution).feasible


def test_time_limit_is_honoured() -> None:
    model = _hard_model()
    started = time.monotonic()
    result = highs.solve(model, HighsOptions(rel_gap=0.0, time_limit_s=0.5), NullProgress(), NeverCancel())
    assert time.monotonic() - started < 5
    assert result.termination in (Termination.time_limit, Termination.optimal)


def _market_split(rows: int, columns: int) -> tuple[Any, np.ndarray]:
    """Equality rows Σ a_ij x_j = b_i built from a random 0/1 point (returned), which HiGHS's own heuristics
    do not find within a second: a start HiGHS can only have from the caller."""
    rng = np.random.default_rng(5)
    weights = rng.integers(0, 100, size=(rows, columns))
    point = rng.integers(0, 2, size=columns).astype(float)
    sums = weights @ point
    model = KIND.parse(
        {
            "format": "json",
            "sense": "minimize",
            "variables": [
                {"name": f"x{j}", "type": "binary", "obj": float(rng.integers(1, 20))} for j in range(columns)
            ],
            "constraints": [
                {"name": f"r{i}", "terms": {f"x{j}": float(weights[i, j]) for j in range(columns)}, "lb": s, "ub": s}
                for i, s in enumerate(sums.tolist())
            ],
        }
    )
    return model, point


def _log_sources(progress: NullProgress) -> list[str]:
    """The "Src" letters of HiGHS's display lines (how each new incumbent was found), in order."""
    lines = [line for message in progress.lines for line in message.splitlines()]
    return [
        line.split()[0] for line in lines if len(line) > 3 and line[0] == " " and line[1].isalpha() and line[2] == " "
    ]


def test_a_start_offered_after_the_heuristics_is_taken_as_the_users_solution() -> None:
    model, point = _market_split(4, 30)
    start_objective = float(model.obj @ point)
    options = HighsOptions(time_limit_s=1, threads=1)
    progress = NullProgress()
    result = HighsSolver().solve(model, options, progress, NeverCancel(), initial=point, start_after_heuristics=True)
    assert "X" in _log_sources(progress)  # HiGHS's mark for a solution from the user callback
    assert progress.incumbents[0] == pytest.approx(start_objective)
    assert result.objective is not None and result.objective <= start_objective + 1e-9
    assert result.solution is not None and KIND.check(model, result.solution).feasible


def test_a_start_offered_after_the_heuristics_comes_after_feasibility_jump() -> None:
    # set cover of 60 columns: the trivial heuristic and feasibility jump report first when the start waits
    # for them; offered before the solve, the start is the first incumbent and the heuristics start from it
    from solvers.milp.generate import generate

    model = KIND.parse(generate(0, family="set_cover", size=60))
    optimum = HighsSolver().solve(model, HighsOptions(rel_gap=0.0, threads=1), NullProgress(), NeverCancel())
    assert optimum.solution is not None and optimum.objective is not None
    point = np.array([optimum.solution["values"][name] for name in model.var_names])
    options = HighsOptions(rel_gap=0.0, threads=1, time_limit_s=20)
    waited, offered = NullProgress(), NullProgress()
    after = HighsSolver().solve(model, options, waited, NeverCancel(), initial=point, start_after_heuristics=True)
    before = HighsSolver().solve(model, options, offered, NeverCancel(), initial=point)
    assert waited.incumbents[0] > optimum.objective and _log_sources(waited)[:2] == ["u", "J"]
    assert offered.incumbents[0] == pytest.approx(optimum.objective)
    assert after.objective == pytest.approx(optimum.objective) == before.objective
