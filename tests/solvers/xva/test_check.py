"""check(): accepts the solver's answer, rejects tampered or malformed ones, never raises."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.xva import KIND
from solvers.xva.generate import generate
from tests.solvers.xva.helpers import black_cox_cdf, black_scholes, single_trade, solve

RAW = generate(9, underlyings=3, trades=8, paths=1_000, steps=12, collateralised=False)
INSTANCE = KIND.parse(RAW)
SOLUTION: dict[str, Any] = solve(RAW).solution or {}


def test_untouched_solution_verifies_with_the_recomputed_cva() -> None:
    verification = KIND.check(INSTANCE, SOLUTION)
    assert verification.feasible, verification.message
    assert verification.objective == pytest.approx(SOLUTION["cva"], rel=1e-9)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda s: s.update(cva=s["cva"] * 1.01 + 1e-3), "cva"),
        (lambda s: s.update(dva=s["dva"] + 0.01), "dva"),
        (lambda s: s.update(fva=s["fva"] + 0.01), "fva"),
        (lambda s: s.update(mva=0.5), "mva"),
        (lambda s: s.update(colva=0.1), "colva"),
        (lambda s: s["exposure"]["epe"].__setitem__(3, -1.0), "epe"),
        (lambda s: s["exposure"]["times"].__setitem__(2, 0.5), "times"),
        (lambda s: s["exposure"]["epe"].__setitem__(0, s["exposure"]["epe"][0] + 1.0), "t_0"),
        (lambda s: s["exposure"]["expected_value"].__setitem__(6, 1e3), "expected_value"),
        (lambda s: s["exposure"]["pfe"].pop(), "pfe"),
        (lambda s: s["std_error"].update(cva=-1.0), "std_error"),
        (lambda s: s["exposure"]["pfe_std_error"].__setitem__(4, -0.1), "pfe_std_error"),
        (lambda s: s.pop("exposure"), "exposure"),
        (lambda s: s.update(cva=float("nan")), "cva"),
    ],
)
def test_tampered_solution_is_rejected(mutate: Any, fragment: str) -> None:
    solution = copy.deepcopy(SOLUTION)
    mutate(solution)
    verification = KIND.check(INSTANCE, solution)
    assert not verification.feasible
    assert fragment in verification.message


def test_simulated_default_solution_is_checked_statistically() -> None:
    structural = {"model": "structural", "asset": 100.0, "vol": 0.25, "barrier": 60.0}
    raw = single_trade(paths=4_000, steps=20, counterparty={"recovery": 0.4, "default": structural})
    inst = KIND.parse(raw)
    solution = solve(raw, default_probabilities="simulated").solution
    assert solution is not None
    assert KIND.check(inst, solution).feasible
    solution["cva"] *= 1.5
    assert not KIND.check(inst, solution).feasible


def test_rarely_seen_simulated_defaults_are_not_rejected_for_their_noise() -> None:
    structural = {"model": "structural", "asset": 100.0, "vol": 0.2, "barrier": 50.0}
    collateral = {"threshold": None, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": None}
    raw = single_trade(
        paths=200, steps=20, collateral=collateral, counterparty={"recovery": 0.4, "default": structural}
    )
    solution = solve(raw, default_probabilities="simulated", importance_sampling=False).solution
    assert solution is not None
    exact = 0.6 * black_scholes("call", 100.0, 100.0, 1.0, 0.01, 0.0, 0.25) * black_cox_cdf(100.0, 50.0, 0.2, 0.01, 1.0)
    # its own standard error understates the noise of a rarely seen default; the check allows for that
    assert abs(solution["cva"] - exact) > 5 * solution["std_error"]["cva"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["cva", "std_error", "exposure", "paths"]),
    st.sampled_from(["epe", "ene", "pfe", "times", "cva", "expected_value"]),
    json_values,
)
def test_corrupted_parts_never_raise(top: str, inner: str, value: Any) -> None:
    solution = copy.deepcopy(SOLUTION)
    if isinstance(solution[top], dict):
        solution[top][inner] = value
    else:
        solution[top] = value
    json.dumps(KIND.check(INSTANCE, solution).as_dict(), allow_nan=False)


def test_svg_plots_three_profiles_with_axes_and_legend() -> None:
    svg = KIND.render_svg(INSTANCE, {"objective": SOLUTION["cva"], "solution": SOLUTION}) if KIND.render_svg else ""
    root = ET.fromstring(svg)
    namespace = "{http://www.w3.org/2000/svg}"
    lines = {p.get("class"): p for p in root.iter(f"{namespace}polyline")}
    assert set(lines) == {"epe", "ene", "pfe"}
    assert all(len((p.get("points") or "").split()) == 13 for p in lines.values())
    texts = "".join(t.text or "" for t in root.iter(f"{namespace}text"))
    for label in ("EPE", "ENE", "PFE", "time (years)"):
        assert label in texts
    frame = next(r for r in root.iter(f"{namespace}rect") if r.get("fill") == "none")
    top, height = float(frame.get("y") or 0), float(frame.get("height") or 0)
    for line in lines.values():
        ys = [float(point.split(",")[1]) for point in (line.get("points") or "").split()]
        assert top - 1e-6 <= min(ys) and max(ys) <= top + height + 1e-6
    ticks = sorted(float(t.text or "") for t in root.iter(f"{namespace}text") if t.get("text-anchor") == "end")
    assert ticks[0] <= -max(SOLUTION["exposure"]["ene"]) and ticks[-1] >= max(SOLUTION["exposure"]["pfe"])


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_svg_of_a_malformed_result_is_still_an_svg(result: Any) -> None:
    svg = KIND.render_svg(INSTANCE, result) if KIND.render_svg else ""
    assert ET.fromstring(svg).tag.endswith("svg")


@pytest.mark.parametrize("value", [2**70, -(2**70), 2**1000, 10**400, [2**70] * 13, [10**400] * 13, 1e308])
@pytest.mark.parametrize(
    ("top", "inner"), [("colva", ""), ("cva", ""), ("std_error", "dva"), ("exposure", "epe"), ("paths", "")]
)
def test_numbers_numpy_cannot_take_never_raise(top: str, inner: str, value: Any) -> None:
    solution = copy.deepcopy(SOLUTION)
    if inner:
        solution[top][inner] = value
    else:
        solution[top] = value
    verification = KIND.check(INSTANCE, solution)
    json.dumps(verification.as_dict(), allow_nan=False)
    if top not in ("paths", "std_error"):  # a huge standard error is uninformative, not false
        assert not verification.feasible
