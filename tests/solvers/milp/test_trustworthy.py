"""Issue 18's milp defects, each reproduced: answers called optimal are optimal, infeasible models are
called infeasible, and every back-end and the check read a model the same way."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import highspy
import pytest
from ortools.sat.python import cp_model

from solvers.base import NeverCancel, NullProgress, Result, SolutionStatus, SolverRefused, Termination
from solvers.milp import KIND
from solvers.milp.scaling import integer_refusal, scaled_row_bound
from solvers.milp.schema import MilpModel

BACKENDS = {name: spec.load() for name, spec in KIND.solvers.items()}
ALL = sorted(BACKENDS)


def parse(variables: list[dict[str, Any]], constraints: list[dict[str, Any]], sense: str = "minimize") -> MilpModel:
    model: MilpModel = KIND.parse(
        {"format": "json", "sense": sense, "variables": variables, "constraints": constraints}
    )
    return model


def solve(solver: str, model: MilpModel) -> Result:
    backend = BACKENDS[solver]
    return backend.solve(model, backend.Options(rel_gap=0.0, time_limit_s=20), NullProgress(), NeverCancel())


def assert_verified(model: MilpModel, result: Result, status: SolutionStatus, objective: float) -> None:
    assert result.status is status, result
    verification = KIND.check(model, result.solution or {})
    assert verification.feasible, verification.message
    # rel 1e-12: at 1e10 a looser relative tolerance would hide a whole unit
    assert result.objective == pytest.approx(objective, rel=1e-12, abs=1e-9)
    assert verification.objective == pytest.approx(objective, rel=1e-12, abs=1e-9)


def assert_infeasible(result: Result) -> None:
    assert (result.status, result.termination) == (SolutionStatus.infeasible, Termination.infeasible), result
    assert result.solution is None


# -- item 2: an empty row whose bounds exclude 0 ----------------------------------------------------------


@pytest.mark.parametrize("solver", ALL)
def test_an_empty_row_with_bounds_6_5_is_infeasible_for_every_backend(solver: str) -> None:
    model = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 5, "obj": 1}],
        [{"name": "empty", "terms": {}, "lb": 6.5, "ub": 6.5}],
    )
    assert_infeasible(solve(solver, model))
    assert not KIND.check(model, {"values": {"x": 0}}).feasible


def test_cpsat_takes_an_empty_row_whose_bounds_hold_zero() -> None:
    model = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 5, "obj": -1}],
        [{"name": "empty", "terms": {}, "lb": -0.5, "ub": 6.5}, {"name": "x", "terms": {"x": 2}, "ub": 7}],
    )
    assert_verified(model, solve("cpsat", model), SolutionStatus.optimal, -3.0)


# -- item 3: CP-SAT's scaling is exact at every magnitude ------------------------------------------------


@pytest.mark.parametrize("solver", ALL)
def test_a_row_bound_beyond_1e9_is_kept_exactly(solver: str) -> None:
    model = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 2e10, "obj": 1}],
        [{"name": "floor", "terms": {"x": 1}, "lb": 10000000000.5}],
    )
    assert_verified(model, solve(solver, model), SolutionStatus.optimal, 10000000001.0)


def test_cpsat_keeps_large_decimal_rows_and_upper_bounds_exact() -> None:
    model = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 2e10, "obj": 1}],
        [{"name": "half", "terms": {"x": 0.5}, "lb": None, "ub": 5000000000.25}],
        sense="maximize",
    )
    assert_verified(model, solve("cpsat", model), SolutionStatus.optimal, 10000000000.0)


def test_scaled_row_bounds_round_inward_exactly_and_absorb_only_float_noise() -> None:
    assert scaled_row_bound(10000000000.5, 1, lower=True) == 10000000001
    assert scaled_row_bound(10000000000.5, 1, lower=False) == 10000000000
    assert scaled_row_bound(6.5, 1, lower=True) == 7
    assert scaled_row_bound(-2.5, 1, lower=True) == -2
    assert scaled_row_bound(0.3, 10, lower=False) == 3  # 0.3 is just below 3/10 as a float
    assert scaled_row_bound(0.1 + 0.2, 10, lower=True) == 3  # 0.30000000000000004: noise, not a unit
    assert scaled_row_bound(3.0, 10**6, lower=True) == 3 * 10**6  # a tolerance never admits a whole unit
    assert scaled_row_bound(2.0**70 + 2.0**20, 1, lower=True) == 2**70 + 2**20


def test_cpsat_refuses_coefficients_that_no_decimal_scale_makes_exactly_integral() -> None:
    near = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 5, "obj": 1}],
        [{"name": "noisy", "terms": {"x": 0.1 + 0.2}, "lb": 0.6}],
    )
    assert integer_refusal(near) == "row 'noisy' has coefficients not integral after scaling by up to 1e+06"
    large = parse(
        [{"name": "x", "type": "integer", "lb": 0, "ub": 5, "obj": 1}],
        [{"name": "big", "terms": {"x": 10000000000.5}, "lb": 15000000000.75}],
    )
    result = solve("cpsat", large)  # scaled by 100, not rounded to 1e10 at scale 1
    assert_verified(large, result, SolutionStatus.optimal, 2.0)


# -- item 4: one infinity threshold ------------------------------------------------------------------------


IMPOSSIBLE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "row_lb_1e21": ({"lb": 0, "ub": 5}, {"lb": 1e21}),
    "row_ub_minus_1e20": ({"lb": -5, "ub": 5}, {"lb": None, "ub": -1e20}),
    "var_lb_1e21": ({"lb": 1e21, "ub": None}, {"lb": None}),
    "var_ub_minus_1e30": ({"lb": None, "ub": -1e30}, {"lb": None}),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
@pytest.mark.parametrize("solver", ALL)
def test_an_infinite_bound_on_the_impossible_side_is_infeasible_everywhere(solver: str, case: str) -> None:
    variable, row = IMPOSSIBLE[case]
    model = parse(
        [{"name": "x", "type": "integer", "obj": 1, **variable}],
        [{"name": "r", "terms": {"x": 1}, **row}],
    )
    assert_infeasible(solve(solver, model))
    for value in (0.0, 1e21, -1e21):
        verification = KIND.check(model, {"values": {"x": value}})
        assert not verification.feasible
        assert math.isfinite(verification.max_violation)


def test_an_mps_rhs_of_1e30_on_a_g_row_is_infinite_and_infeasible() -> None:
    text = "NAME T\nROWS\n N obj\n G big\nCOLUMNS\n x obj 1 big 1\nRHS\n rhs big 1e30\nBOUNDS\n UP b x 4\nENDATA\n"
    model: MilpModel = KIND.parse({"format": "mps", "model": text})
    assert model.row_lb[0] == math.inf
    for solver in ALL:
        assert_infeasible(solve(solver, model))


# -- item 5: semi-continuous x ∈ {0} ∪ [lb, ub] ---------------------------------------------------------


def semicontinuous(lb: float | None, ub: float, obj: float, rows: list[dict[str, Any]] | None = None) -> MilpModel:
    variables: list[dict[str, Any]] = [
        {"name": "s", "type": "semicontinuous", "lb": lb, "ub": ub, "obj": obj},
        {"name": "y", "type": "continuous", "lb": -3, "ub": 3, "obj": 0},
    ]
    return parse(variables, rows or [])


SEMICONTINUOUS = {
    # (lb, ub, obj, rows): optimum
    "negative_lb": ((-10.0, 5.0, 1.0, None), -10.0),
    "missing_lb": ((None, 5.0, 1.0, [{"name": "r", "terms": {"s": 1, "y": 1}, "lb": -10}]), -13.0),
    "lb_above_ub_only_zero": ((6.0, 5.0, -1.0, None), 0.0),
    "positive_lb_jumps": ((3.0, 8.0, 1.0, [{"name": "need", "terms": {"s": 1, "y": 1}, "lb": 4}]), 3.0),
    "positive_lb_or_zero": ((3.0, 8.0, 1.0, [{"name": "need", "terms": {"s": 1, "y": 1}, "lb": 2}]), 0.0),
}


@pytest.mark.parametrize("case", sorted(SEMICONTINUOUS))
@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_semicontinuous_semantics_agree_across_backends_and_check(solver: str, case: str) -> None:
    (lb, ub, obj, rows), optimum = SEMICONTINUOUS[case]
    model = semicontinuous(lb, ub, obj, rows)
    assert_verified(model, solve(solver, model), SolutionStatus.optimal, optimum)


@pytest.mark.parametrize("case", sorted(SEMICONTINUOUS))
def test_cpsat_refuses_semicontinuous_variables_saying_why(case: str) -> None:
    (lb, ub, obj, rows), _ = SEMICONTINUOUS[case]
    with pytest.raises(SolverRefused, match="only integer variables"):
        solve("cpsat", semicontinuous(lb, ub, obj, rows))


def test_the_check_reads_semicontinuous_as_zero_or_within_bounds() -> None:
    def feasible(lb: float | None, ub: float, value: float) -> bool:
        return KIND.check(semicontinuous(lb, ub, 0.0), {"values": {"s": value, "y": 0}}).feasible

    assert feasible(-10, 5, -10) and feasible(-10, 5, 0) and feasible(None, 5, -1e6)
    assert feasible(6, 5, 0) and not feasible(6, 5, 5.5) and not feasible(6, 5, 6)
    assert feasible(3, 8, 0) and feasible(3, 8, 3) and not feasible(3, 8, 1.5) and not feasible(3, 8, 9)
    assert feasible(1e21, 5, 0) and not feasible(1e21, 5, 5)


# -- item 10: an INTORG block without INTEND ----------------------------------------------------------------

NO_INTEND = """NAME          NOINTEND
ROWS
 N  COST
 L  CAP
COLUMNS
    Y         COST         1.0   CAP          1.0
    MARKER                 'MARKER'                 'INTORG'
    X         COST        -1.0   CAP          2.0
    Z         COST        -1.0   CAP          3.0
RHS
    RHS       CAP          4.5
BOUNDS
 UP BND       Z            4
ENDATA
"""


def test_an_intorg_block_without_intend_is_closed_at_the_end_of_columns_as_highs_reads_it(tmp_path: Any) -> None:
    model: MilpModel = KIND.parse({"format": "mps", "model": NO_INTEND})
    assert KIND.summary(model)["notes"] == [
        "line 10: the integer block opened by INTORG on line 7 has no INTEND; it was closed at the end of COLUMNS"
    ]
    path = tmp_path / "nointend.mps"
    path.write_text(NO_INTEND)
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.silent()
    assert highs.readModel(str(path)) == highspy.HighsStatus.kOk
    lp = highs.getLp()
    integer = [t == highspy.HighsVarType.kInteger for t in lp.integrality_]
    assert [bool(t) for t in model.var_types] == integer == [False, True, True]
    assert model.lb.tolist() == list(lp.col_lower_) and model.ub.tolist() == list(lp.col_upper_)
    for solver in ("highs", "scip"):
        assert_verified(model, solve(solver, model), SolutionStatus.optimal, -1.0)


HIGHS_FILE = Path(__file__).parent / "data" / "infeasible-mip1.mps"  # HiGHS' check/instances (data/LICENSE)


def test_highs_own_file_with_intorg_and_no_intend_is_read_as_highs_reads_it_and_is_infeasible() -> None:
    model: MilpModel = KIND.parse({"format": "mps", "model": HIGHS_FILE.read_text()})
    assert KIND.summary(model)["notes"] == [
        "line 331: the integer block opened by INTORG on line 77 has no INTEND; it was closed at the end of COLUMNS"
    ]
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.silent()
    assert highs.readModel(str(HIGHS_FILE)) == highspy.HighsStatus.kOk
    lp = highs.getLp()
    assert [t == highspy.HighsVarType.kInteger for t in lp.integrality_] == [bool(t) for t in model.var_types]
    assert model.num_integer == 11
    assert model.lb.tolist() == list(lp.col_lower_) and model.ub.tolist() == list(lp.col_upper_)
    for solver in ("highs", "scip"):
        assert_infeasible(solve(solver, model))


# -- item 12: automatic LP row names --------------------------------------------------------------------------


def test_lp_automatic_row_names_never_collide_with_explicit_ones() -> None:
    text = "minimize\n x + y\nsubject to\n x >= 1\n R1: y >= 2\n R2: x + y <= 9\n x - y <= 4\nend\n"
    model: MilpModel = KIND.parse({"format": "lp", "model": text})
    assert model.row_names == ["R1_1", "R1", "R2", "R4"]
    assert model.row_lb.tolist() == [1, 2, -math.inf, -math.inf]
    explicit_later = "minimize\n x\nsubject to\n x >= 1\n y >= 2\n R2: x + y <= 9\nend\n"
    named: MilpModel = KIND.parse({"format": "lp", "model": explicit_later})
    assert named.row_names == ["R1", "R2_1", "R2"]


# -- "optimal" only when the back-end's objective matches its values ------------------------------------------


def knapsack() -> MilpModel:
    return parse(
        [{"name": n, "type": "binary", "obj": c} for n, c in (("a", 3), ("b", 4), ("c", 5))],
        [{"name": "cap", "terms": {"a": 2, "b": 3, "c": 4}, "ub": 5}],
        sense="maximize",
    )


def assert_downgraded(model: MilpModel, result: Result, reported: float) -> None:
    verification = KIND.check(model, result.solution or {})
    assert verification.feasible
    assert (result.status, result.termination) == (SolutionStatus.feasible, Termination.other)
    assert result.objective == pytest.approx(verification.objective) == 7.0
    assert result.stats["objective_disagreement"] == {"reported": pytest.approx(reported), "recomputed": 7.0}


def test_highs_reporting_an_objective_its_values_do_not_have_is_not_called_optimal(monkeypatch: Any) -> None:
    original = highspy.Highs.getInfo

    def inflated(self: highspy.Highs) -> Any:
        info = original(self)
        info.objective_function_value += 2.0
        return info

    monkeypatch.setattr(highspy.Highs, "getInfo", inflated)
    model = knapsack()
    assert_downgraded(model, solve("highs", model), 9.0)


def test_cpsat_reporting_an_objective_its_values_do_not_have_is_not_called_optimal(monkeypatch: Any) -> None:
    monkeypatch.setattr(cp_model.CpSolver, "objective_value", property(lambda self: 9.0))
    model = knapsack()
    assert_downgraded(model, solve("cpsat", model), 9.0)


def test_incumbents_are_reported_with_the_objective_of_their_values(monkeypatch: Any) -> None:
    monkeypatch.setattr(cp_model.CpSolverSolutionCallback, "objective_value", property(lambda self: 99.0))
    model = knapsack()
    backend = BACKENDS["cpsat"]
    progress = NullProgress()
    backend.solve(model, backend.Options(rel_gap=0.0), progress, NeverCancel())
    assert progress.incumbents and 99.0 not in progress.incumbents
    assert progress.incumbents[-1] == KIND.check(model, progress.best_solution or {}).objective == 7.0


def test_the_check_computes_the_objective_without_the_helper_the_backends_report_with(monkeypatch: Any) -> None:
    model = knapsack()
    monkeypatch.setattr(MilpModel, "objective_value", lambda self, x: 0.0)
    assert KIND.check(model, {"values": {"a": 1, "b": 1, "c": 0}}).objective == 7.0
