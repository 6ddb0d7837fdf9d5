"""Issue 18 item 6 and issue 20 M4: fat-tailed inputs refused with their field, a check that recomputes the
adjustments independently (a fabricated CVA is caught), and every answer's objective equal to the check's."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pytest

from solvers.base import InvalidInstance, SolutionStatus
from solvers.xva import EXAMPLE, KIND
from solvers.xva.generate import generate
from solvers.xva.schema import MAX_TOTAL_VARIANCE, parse
from tests.conftest import Api
from tests.solvers.xva.helpers import black_cox_cdf, black_scholes, single_trade, solve

UNCOLLATERALISED = {"threshold": None, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": None}


def long_call(vol: float, maturity: float, paths: int = 20_000) -> dict[str, Any]:
    raw = single_trade(maturity=maturity, paths=paths, steps=10, collateral=UNCOLLATERALISED)
    raw["market"]["underlyings"][0]["vol"] = vol
    return raw


@pytest.mark.parametrize(("vol", "maturity"), [(5.0, 50.0), (1.5, 10.0)])
def test_fat_tailed_underlyings_are_refused_naming_the_vol(vol: float, maturity: float) -> None:
    # was CVA 0 ± 0 against a closed form of 38 (σ = 5, T = 50), and a rejected answer at σ = 1.5, T = 10
    with pytest.raises(InvalidInstance) as info:
        parse(long_call(vol, maturity))
    (error,) = info.value.errors
    assert error["loc"] == ["market", "underlyings", 0, "vol"]
    assert "MAX_TOTAL_VARIANCE" in error["msg"] and "'t1'" in error["msg"]


def test_fat_tailed_instance_is_a_422_through_the_api(api: Api) -> None:
    response = api.request("POST", "/v1/jobs", json={"kind": "xva", "instance": long_call(5.0, 50.0)})
    assert response.status_code == 422, response.text
    assert ["instance", "market", "underlyings", 0, "vol"] in [e["loc"] for e in response.json()["errors"]]


def test_at_the_variance_cap_the_engine_matches_the_closed_form_and_verifies() -> None:
    maturity = 10.0
    vol = math.sqrt(MAX_TOTAL_VARIANCE / maturity)
    result = solve(long_call(vol, maturity))  # solve() asserts the check accepts it
    assert result.solution is not None
    exact = 0.6 * black_scholes("call", 100.0, 100.0, maturity, 0.01, 0.0, vol) * (1 - math.exp(-0.02 * maturity))
    assert abs(result.solution["cva"] - exact) <= 4 * result.solution["std_error"]["cva"]


def fabricated_zero_cva(solution: dict[str, Any]) -> dict[str, Any]:
    """The engine's answer with CVA 0: EPE and PFE zeroed after t_0, FVA made consistent with EPE − ENE and
    the optional fields that would give it away left out — every identity still holds."""
    inst = KIND.parse(EXAMPLE)
    fake = copy.deepcopy(solution)
    exposure = fake["exposure"]
    for name in ("epe", "pfe", "epe_std_error", "pfe_std_error"):
        exposure[name] = exposure[name][:1] + [0.0] * (len(exposure[name]) - 1)
    del exposure["expected_value"], exposure["expected_value_std_error"]
    fake["cva"] = fake["std_error"]["cva"] = 0.0
    times = inst.grid()
    # EXAMPLE: hazard counterparty (λ = 0.02), structural bank (asset 100, vol 0.2, barrier 50)
    bank_survival = [1.0] + [1 - black_cox_cdf(100.0, 50.0, 0.2, 0.01, t) for t in times[1:]]
    survival = np.exp(-0.02 * times) * np.array(bank_survival)
    value = np.array(exposure["epe"]) - np.array(exposure["ene"])
    fake["fva"] = -inst.funding.spread * float(np.sum(np.diff(times) * survival[:-1] * value[1:]))
    return fake


@pytest.fixture(scope="module")
def example_solution() -> dict[str, Any]:
    """The engine's verified answer to the API example (CVA ≈ 0.1234)."""
    solution = solve(EXAMPLE).solution
    assert solution is not None
    return solution


def test_a_fabricated_cva_is_caught(example_solution: dict[str, Any]) -> None:
    inst = KIND.parse(EXAMPLE)
    solution = example_solution
    assert solution["cva"] == pytest.approx(0.1234, abs=0.002)
    fake = fabricated_zero_cva(solution)
    verdict = KIND.check(inst, fake)
    assert not verdict.feasible  # verified feasible before: a consistency check only
    assert "cva = 0 is" in verdict.message and "independent estimate" in verdict.message
    off = copy.deepcopy(solution)
    off["cva"] *= 1.2
    off["exposure"]["epe"] = [v * 1.2 for v in off["exposure"]["epe"]]  # keeps CVA = Σ EPE·PD
    assert not KIND.check(inst, off).feasible


def test_a_huge_stated_standard_error_does_not_excuse_a_wrong_cva(example_solution: dict[str, Any]) -> None:
    inst = KIND.parse(EXAMPLE)
    fake = fabricated_zero_cva(example_solution)
    fake["std_error"]["cva"] = 1.0  # CVA 0 "± 1": a mean of non-negative contributions cannot have it
    assert not KIND.check(inst, fake).feasible


CASES = list(itertools.product([False, True], [False, True], ["exact", "simulated"], [True, False]))


@pytest.mark.parametrize(("collateralised", "initial_margin", "defaults", "antithetic"), CASES)
def test_every_answer_reports_the_objective_the_check_recomputes(
    collateralised: bool, initial_margin: bool, defaults: str, antithetic: bool
) -> None:
    for seed in range(2):
        raw = generate(
            seed + 10 * CASES.index((collateralised, initial_margin, defaults, antithetic)),
            underlyings=2,
            trades=4,
            paths=1_000,
            steps=12,
            collateralised=collateralised,
            initial_margin=initial_margin,
        )
        # solve() asserts: verified feasible, and objective equal to the check's recomputed one to 1e-6
        result = solve(raw, default_probabilities=defaults, antithetic=antithetic)
        # the only solver is a Monte Carlo estimate: it never claims optimality, so no claim can be beaten
        assert result.status == SolutionStatus.feasible and result.bound is None
