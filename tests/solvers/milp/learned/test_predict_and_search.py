"""The predict_and_search solver on generated instances: verified answers, the two phases, the fallback."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress, SolutionStatus, Termination
from solvers.milp import KIND
from solvers.milp.generate import generate
from solvers.milp.highs import HighsSolver
from solvers.milp.learned.features import graph_features
from solvers.milp.learned.labels import instance_model
from solvers.milp.learned.options import PredictAndSearchOptions
from solvers.milp.learned.solver import (
    MIN_PHASE_S,
    PredictAndSearchSolver,
    load_model,
    restricted_model,
    trust_region,
)
from solvers.milp.options import HighsOptions
from solvers.milp.schema import MilpModel

SOLVER = PredictAndSearchSolver()


class Cancelled:
    """A cancel flag set from the start."""

    def is_set(self) -> bool:
        return True


def _highs_optimum(model: MilpModel) -> float:
    highs = KIND.solvers["highs"].load()
    result = highs.solve(model, highs.Options(rel_gap=0.0, time_limit_s=60), NullProgress(), NeverCancel())
    assert result.status is SolutionStatus.optimal and result.objective is not None
    return result.objective


@pytest.mark.parametrize(("family", "size"), [("set_cover", 40), ("independent_set", 60)])
def test_a_recognised_instance_is_solved_in_two_phases_to_a_verified_optimum(family: str, size: int) -> None:
    model = KIND.parse(generate(11, family, size=size))  # type: ignore[arg-type]
    progress = NullProgress()
    result = SOLVER.solve(model, PredictAndSearchOptions(time_limit_s=30, rel_gap=0.0), progress, NeverCancel())
    assert result.status is SolutionStatus.optimal and result.termination is Termination.optimal
    assert result.solution is not None
    verification = KIND.check(model, result.solution)
    assert verification.feasible and verification.objective == pytest.approx(result.objective)
    assert result.objective == pytest.approx(_highs_optimum(model))
    stats = result.stats
    assert stats["model"] == family and stats["model_chosen_by"] == "recognised"
    assert stats["binaries"] == model.num_binary
    assert stats["fixed_zeros"] + stats["fixed_ones"] > 0 and stats["delta"] >= 0
    assert set(stats["restricted"]) >= {"time_s", "termination", "objective"} and "full" in stats
    # the full phase never ends worse than the restricted one, and events only ever improve
    restricted = stats["restricted"]["objective"]
    if restricted is not None:
        assert not (result.objective - restricted) * (1 if model.sense == "minimize" else -1) > 1e-9
    better = np.diff(progress.incumbents) * (1 if model.sense == "minimize" else -1)
    assert np.all(better < 0)
    assert progress.incumbents[-1] == pytest.approx(result.objective)
    # bounds come only from the full model, so each one is a bound on the optimum
    objective = result.objective
    assert objective is not None
    for bound in progress.bounds:
        assert (bound <= objective + 1e-6) if model.sense == "minimize" else (bound >= objective - 1e-6)


def test_an_instance_no_model_fits_is_solved_by_highs_with_the_reason_in_stats() -> None:
    model = KIND.parse(generate(5, "set_cover", size=30))
    model.matrix.data[0] = 2.0  # no longer a set cover
    progress = NullProgress()
    result = SOLVER.solve(model, PredictAndSearchOptions(time_limit_s=20, rel_gap=0.0), progress, NeverCancel())
    assert result.stats["model"] is None
    for family in ("set_cover", "combinatorial_auction", "facility_location", "independent_set"):
        assert family in result.stats["fallback"]
    assert any("no model used" in line for line in progress.lines)
    assert result.status is SolutionStatus.optimal and result.solution is not None
    assert KIND.check(model, result.solution).feasible
    assert result.objective == pytest.approx(_highs_optimum(model))


def test_the_model_option_uses_a_model_on_any_instance_with_binaries() -> None:
    model = KIND.parse(generate(5, "set_cover", size=30))
    model.matrix.data[0] = 2.0
    options = PredictAndSearchOptions(time_limit_s=20, model="set_cover", fixed_zeros=0.5, fixed_ones=0.0, delta=0.2)
    result = SOLVER.solve(model, options, NullProgress(), NeverCancel())
    assert result.stats["model"] == "set_cover" and result.stats["model_chosen_by"] == "option"
    assert result.stats["fixed_zeros"] == round(0.5 * model.num_binary) and result.stats["fixed_ones"] == 0
    assert result.stats["delta"] == int(np.ceil(0.2 * result.stats["fixed_zeros"]))
    assert result.solution is not None and KIND.check(model, result.solution).feasible


def test_a_cancelled_solve_stops_after_the_restricted_phase_and_claims_no_optimum() -> None:
    model = KIND.parse(generate(2, "combinatorial_auction", size=100))
    result = SOLVER.solve(model, PredictAndSearchOptions(time_limit_s=30), NullProgress(), Cancelled())
    assert result.termination is Termination.cancelled
    assert result.status in (SolutionStatus.feasible, SolutionStatus.no_solution)
    assert "full" not in result.stats and result.bound is None
    if result.solution is not None:
        assert KIND.check(model, result.solution).feasible


def test_a_model_without_binaries_is_refused_at_submission() -> None:
    lp = KIND.parse(
        {
            "format": "json",
            "variables": [{"name": "x", "obj": 1.0, "ub": 3}],
            "constraints": [{"name": "c", "terms": {"x": 1.0}, "lb": 1.0, "ub": None}],
        }
    )
    assert KIND.refusal is not None
    refusal = KIND.refusal(lp, "predict_and_search")
    assert refusal is not None and "binary" in refusal
    assert KIND.refusal(KIND.parse(generate(0, "set_cover", size=20)), "predict_and_search") is None


def test_a_restricted_model_closed_early_is_widened_until_one_is_not() -> None:
    model = KIND.parse(generate(11, "independent_set", size=60))
    result = SOLVER.solve(model, PredictAndSearchOptions(time_limit_s=20, rel_gap=0.0), NullProgress(), NeverCancel())
    stages = result.stats["stages"]
    assert stages[0]["fixed_zeros"] == result.stats["fixed_zeros"] and len(stages) > 1
    fixed = [stage["fixed_zeros"] for stage in stages]
    assert fixed == sorted(set(fixed), reverse=True)  # each stage frees some of the fixed zeros
    assert all(later <= round(0.75 * earlier) for earlier, later in pairwise(fixed))
    # every stage but the last closed its model; the widening stops with the region emptied here
    assert all(stage["termination"] in ("optimal", "gap_limit") for stage in stages[:-1]) and fixed[-1] == 0
    objectives = [stage["objective"] for stage in stages]
    assert objectives == sorted(objectives)  # a maximisation: a wider region never ends worse
    assert result.status is SolutionStatus.optimal and result.objective == pytest.approx(_highs_optimum(model))
    single = SOLVER.solve(
        model, PredictAndSearchOptions(time_limit_s=20, rel_gap=0.0, widening=1.0), NullProgress(), NeverCancel()
    )
    assert len(single.stats["stages"]) == 1


def test_a_warm_started_highs_run_returns_the_point_of_the_objective_it_reports() -> None:
    # HiGHS 1.16 returned the offered start (666) with the reported optimum 673 on this restricted model
    model = instance_model("independent_set", 101)
    graph = graph_features(model)
    probabilities = load_model("independent_set").probabilities(graph)
    narrow = restricted_model(model, trust_region(probabilities, graph.binary, 0.4354, 0.0, 0.0))
    wide = restricted_model(model, trust_region(probabilities, graph.binary, 0.4354 * 0.75, 0.0, 0.0))
    highs = HighsSolver()
    options = HighsOptions(time_limit_s=20, threads=1, rel_gap=0.0)
    start = highs.solve(narrow, options, NullProgress(), NeverCancel())
    assert start.solution is not None
    values = np.array([start.solution["values"][name] for name in model.var_names])
    warm = highs.solve(wide, options, NullProgress(), NeverCancel(), initial=values)
    cold = highs.solve(wide, options, NullProgress(), NeverCancel())
    assert cold.status is SolutionStatus.optimal and warm.status is SolutionStatus.optimal
    assert warm.objective == pytest.approx(cold.objective) and "objective_disagreement" not in warm.stats
    assert warm.solution is not None and KIND.check(wide, warm.solution).objective == pytest.approx(cold.objective)


def test_the_restricted_phase_stops_at_its_cap_and_the_full_model_gets_the_rest() -> None:
    # on a 1500-node independent set the widened regions stop closing, so without the cap the restricted
    # phase would take its whole share (8 of the 16 s); the margins allow for HiGHS stopping late
    model = instance_model("independent_set", 102)
    options = PredictAndSearchOptions(time_limit_s=16, threads=1, restricted_time_cap_s=1.0)
    result = SOLVER.solve(model, options, NullProgress(), NeverCancel())
    assert result.stats["restricted"]["time_s"] < 4.5
    assert result.stats["full"]["time_s"] > 10.0
    # the phase reports how its last stage ended (not its best stage): cut short by the cap, or — on a fast
    # machine — closed with less than MIN_PHASE_S of the cap left, so that no further stage started
    last = result.stats["stages"][-1]
    assert result.stats["restricted"]["termination"] == last["termination"]
    assert last["termination"] == "time_limit" or result.stats["restricted"]["time_s"] >= 1.0 - MIN_PHASE_S
    assert result.solution is not None and KIND.check(model, result.solution).feasible
    with pytest.raises(ValueError, match="restricted_time_cap_s"):
        PredictAndSearchOptions(restricted_time_cap_s=0)
