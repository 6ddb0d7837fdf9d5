"""Independent verification of an xva solution from the solution JSON alone (no solver code)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers.base import JSON, Verification
from solvers.xva.default_models import default_cdf
from solvers.xva.pricing import TradeTable, unit_prices
from solvers.xva.schema import Instance, StructuralDefault, is_finite_number

CHECKED_BY = "xva.check"
ADJUSTMENT_NAMES = ("cva", "dva", "fva", "mva", "colva")
PROFILE_NAMES = ("epe", "ene", "pfe")
OPTIONAL_PROFILE_NAMES = (
    "epe_std_error",
    "ene_std_error",
    "pfe_std_error",
    "expected_value",
    "expected_value_std_error",
    "expected_im_posted",
)
#: Relative tolerance of identities that hold exactly (up to rounding) for any number of paths.
EXACT_TOL = 1e-7
#: Standard errors allowed between an estimate and its closed form (statistical checks).
STAT_SIGMAS = 5.0
#: With fewer paths the standard errors are too unreliable for the statistical check of the exposures.
MIN_STATISTICAL_PATHS = 1_000


class _Problems:
    """Collects violations (size and message) of the checks."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.max_violation = 0.0

    def require(self, ok: bool, violation: float, message: str) -> None:
        """Record ``message`` with its ``violation`` size unless ``ok``."""
        if not ok:
            self.messages.append(message)
            self.max_violation = max(self.max_violation, float(violation) if np.isfinite(violation) else 1e300)


def _fail(message: str) -> Verification:
    return Verification(feasible=False, objective=None, max_violation=0.0, checked_by=CHECKED_BY, message=message)


def _number_array(value: Any, length: int) -> np.ndarray | None:
    """A finite float array of ``length`` entries, or None when ``value`` is not one."""
    if not isinstance(value, list) or len(value) != length or not all(is_finite_number(v) for v in value):
        return None
    return np.array(value, dtype=np.float64)


def check(inst: Instance, solution: Any) -> Verification:
    """Verify shapes, finiteness, sign and exposure identities, CVA/DVA/FVA/MVA against the profiles and
    the closed forms that hold for any collateral-free netting set; objective = CVA recomputed from EPE."""
    if not isinstance(solution, dict):
        return _fail("the solution must be a JSON object")
    errors = solution.get("std_error")
    exposure = solution.get("exposure")
    if not isinstance(errors, dict) or not isinstance(exposure, dict):
        return _fail("the solution needs 'std_error' and 'exposure' objects")
    for name in ADJUSTMENT_NAMES:
        if not is_finite_number(solution.get(name)):
            return _fail(f"'{name}' must be a finite number")
        if not is_finite_number(errors.get(name)) or errors[name] < 0:
            return _fail(f"'std_error.{name}' must be a finite number ≥ 0")
    times = inst.grid()
    n = len(times)
    arrays: dict[str, np.ndarray] = {}
    for name in ("times", *PROFILE_NAMES):
        array = _number_array(exposure.get(name), n)
        if array is None:
            return _fail(f"'exposure.{name}' must list {n} finite numbers (t_0 … t_N)")
        arrays[name] = array
    optional: dict[str, np.ndarray] = {}
    for name in OPTIONAL_PROFILE_NAMES:
        if name in exposure:
            array = _number_array(exposure[name], n)
            if array is None:
                return _fail(f"'exposure.{name}' must list {n} finite numbers when given")
            if name.endswith("std_error") and float(array.min()) < 0:
                return _fail(f"'exposure.{name}' must be ≥ 0")
            optional[name] = array
    problems = _Problems()
    scale = 1.0 + float(np.sum(np.abs([t.quantity * max(t.strike, 1.0) for t in inst.trades])))
    grid_error = float(np.max(np.abs(arrays["times"] - times)))
    problems.require(
        grid_error <= 1e-9 * max(inst.horizon, 1.0), grid_error, "exposure.times is not the grid t_k = kT/N"
    )
    for name in PROFILE_NAMES:
        low = float(np.min(arrays[name]))
        problems.require(low >= -EXACT_TOL * scale, -low, f"exposure.{name} must be ≥ 0 on every date")
    for name in ("cva", "dva", "mva"):
        problems.require(solution[name] >= -EXACT_TOL * scale, -solution[name], f"{name} must be ≥ 0")
    problems.require(solution["colva"] == 0.0, abs(solution["colva"]), "colva is 0 (collateral earns the rate)")
    simulated = solution.get("default_probabilities") == "simulated"
    rate = inst.market.rate
    cva = _check_adjustment(inst, solution, "cva", "counterparty", arrays["epe"], simulated, problems)
    _check_adjustment(inst, solution, "dva", "bank", arrays["ene"], simulated, problems)
    survival = (1.0 - default_cdf(inst.counterparty.default, rate, times)) * (
        1.0 - default_cdf(inst.bank.default, rate, times)
    )
    dt = np.diff(times)
    funding_stat = simulated and any(isinstance(p.default, StructuralDefault) for p in (inst.counterparty, inst.bank))
    funding_scale = abs(inst.funding.spread) * inst.horizon
    has_im = inst.collateral.initial_margin is not None and inst.margin_period > 0
    expected_value = optional.get("expected_value")
    if expected_value is None and not has_im:
        expected_value = arrays["epe"] - arrays["ene"]
    if expected_value is not None:
        fva = -inst.funding.spread * float(np.sum(dt * survival[:-1] * expected_value[1:]))
        floor = _default_noise_floor(
            funding_scale * float(np.max(np.abs(expected_value))), 1.0 - float(survival[-1]), solution
        )
        _require_close(problems, "fva", solution["fva"], fva, max(errors["fva"], floor), funding_stat, scale)
    if not has_im:
        problems.require(solution["mva"] == 0.0, abs(solution["mva"]), "mva is 0 without initial margin")
        if "expected_value" in optional:
            gap = np.abs(arrays["epe"] - arrays["ene"] - optional["expected_value"])
            problems.require(
                float(gap.max()) <= EXACT_TOL * scale,
                float(gap.max()),
                "epe − ene must equal expected_value without initial margin",
            )
        _check_first_date(inst, arrays, problems, scale)
    elif "expected_im_posted" in optional:
        mva = inst.funding.spread * float(np.sum(dt * survival[1:] * optional["expected_im_posted"][1:]))
        floor = _default_noise_floor(
            funding_scale * float(np.max(optional["expected_im_posted"])), 1.0 - float(survival[-1]), solution
        )
        _require_close(problems, "mva", solution["mva"], mva, max(errors["mva"], floor), funding_stat, scale)
    paths = solution.get("paths")
    enough_paths = not isinstance(paths, int) or paths >= MIN_STATISTICAL_PATHS
    if inst.collateral.threshold is None and not has_im and "expected_value_std_error" in optional and enough_paths:
        _check_martingale(inst, optional, problems, scale)
    return Verification(
        feasible=not problems.messages,
        objective=cva,
        max_violation=problems.max_violation,
        checked_by=CHECKED_BY,
        message="; ".join(problems.messages),
    )


def _require_close(
    problems: _Problems,
    name: str,
    reported: float,
    recomputed: float,
    std_error: float,
    statistical: bool,
    scale: float,
) -> bool:
    """``reported`` must equal ``recomputed`` (within STAT_SIGMAS standard errors when ``statistical``);
    True when it does."""
    tolerance = EXACT_TOL * scale + (STAT_SIGMAS * std_error if statistical else 0.0)
    gap = abs(reported - recomputed)
    problems.require(
        gap <= tolerance,
        gap,
        f"{name} = {reported:.6g} disagrees with {recomputed:.6g} recomputed from the exposure profile",
    )
    return gap <= tolerance


def _check_adjustment(
    inst: Instance,
    solution: JSON,
    name: str,
    party: str,
    profile: np.ndarray,
    simulated: bool,
    problems: _Problems,
) -> float:
    """CVA (DVA) must be (1 − R) Σ_k EPE_k (ENE_k)·PD_k with closed-form PD. Returns the verified value: the
    recomputation, or with simulated defaults (an estimator that differs from it by Monte Carlo noise) the
    reported value once it lies within STAT_SIGMAS standard errors of it."""
    who = getattr(inst, party)
    cdf = default_cdf(who.default, inst.market.rate, inst.grid())
    recovery: float = who.recovery
    recomputed = (1.0 - recovery) * float(np.sum(profile[1:] * np.diff(cdf)))
    statistical = simulated and isinstance(who.default, StructuralDefault)
    scale = 1.0 + float(np.max(np.abs(profile)))
    std_error = max(
        float(solution["std_error"][name]),
        _default_noise_floor((1.0 - recovery) * float(np.max(profile)), float(cdf[-1]), solution),
    )
    consistent = _require_close(problems, name, solution[name], recomputed, std_error, statistical, scale)
    return float(solution[name]) if statistical and consistent else recomputed


def _default_noise_floor(magnitude: float, default_probability: float, solution: JSON) -> float:
    """magnitude·√(F(1 − F)/n): the standard error of simulating default indicators on the solution's n
    paths. Simulated-default estimates are compared within at least this, because their own standard
    error is unreliable when defaults are rarely seen (e.g. none seen: estimate 0, standard error 0)."""
    paths = solution.get("paths")
    if not isinstance(paths, int) or isinstance(paths, bool) or paths < 1:
        return 0.0
    return magnitude * math.sqrt(default_probability * (1.0 - default_probability) / paths)


def _values_today(inst: Instance) -> np.ndarray:
    """Today's price of each trade's position (quantity × closed-form price)."""
    table = TradeTable.from_instance(inst)
    spots = np.array([inst.market.underlyings[i].spot for i in table.underlying])
    out: np.ndarray = unit_prices(table, spots, table.maturity, inst.market.rate) * table.quantity
    return out


def _check_first_date(inst: Instance, arrays: dict[str, np.ndarray], problems: _Problems, scale: float) -> None:
    """At t_0 nothing is random: EPE_0 = (V_0 − C_0)⁺ and ENE_0 = (C_0 − V_0)⁺ with C_0 = C*(V_0)."""
    value = float(np.sum(_values_today(inst)))
    csa = inst.collateral
    collateral = 0.0
    if csa.threshold is not None:
        target = float(np.sign(value)) * max(abs(value) - csa.threshold, 0.0)
        collateral = target if abs(target) >= csa.minimum_transfer else 0.0
    for name, expected in (("epe", max(value - collateral, 0.0)), ("ene", max(collateral - value, 0.0))):
        gap = abs(float(arrays[name][0]) - expected)
        problems.require(gap <= EXACT_TOL * scale, gap, f"{name} at t_0 must be {expected:.6g}")


def _check_martingale(inst: Instance, optional: dict[str, np.ndarray], problems: _Problems, scale: float) -> None:
    """Uncollateralised: E[D_k V_k] = Σ today's prices of the trades still alive at t_k (a martingale)."""
    today = _values_today(inst)
    maturities = np.array([t.maturity for t in inst.trades])
    times = inst.grid()
    alive = maturities[None, :] >= times[:, None] - 1e-10
    expected = alive.astype(np.float64) @ today
    gap = np.abs(optional["expected_value"] - expected)
    tolerance = EXACT_TOL * scale + STAT_SIGMAS * optional["expected_value_std_error"]
    worst = int(np.argmax(gap - tolerance))
    problems.require(
        bool(np.all(gap <= tolerance)),
        float(gap[worst]),
        f"expected_value at t_{worst} is {STAT_SIGMAS:g} standard errors away from its closed form",
    )
