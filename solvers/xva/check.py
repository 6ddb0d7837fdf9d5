"""Independent verification of an xva solution: identities, closed forms and the check's own estimate.

Nothing here comes from the engine: prices, default probabilities, initial margin (with several traded
underlyings checked by brute-force nested sampling on a sample of (path, date) pairs) and the independent
Monte Carlo estimate are in :mod:`solvers.xva.check_reference` (an import-linter contract forbids the check and
it from importing the solver modules). What a feasible verdict guarantees is listed in docs/kinds/xva.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers.base import JSON, Verification
from solvers.xva.check_reference import (
    Book,
    collateral_target,
    default_probability,
    estimate,
    has_initial_margin,
    margins,
    scalar_price,
)
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
#: The martingale test of expected_value uses the reported standard errors only up to this σ²·t.
MARTINGALE_MAX_VARIANCE = 1.0
#: Combined standard errors allowed between a reported adjustment and the check's independent estimate
#: (and reported standard errors in the martingale test).
INDEPENDENT_SIGMAS = 6.0
#: Paths of the independent estimate: twice the requested paths where CHECK_WORK trade pricings allow it,
#: within these bounds.
MIN_CHECK_PATHS = 100
MAX_CHECK_PATHS = 20_000
CHECK_WORK = 5_000_000
#: An honest standard error of a mean of non-negative contributions is at most the mean (√(n/(n−1)) aside).
NONNEGATIVE_SE_RATIO = 1.01
#: PFE is a quantile of float32 exposures: at t_0 it equals EPE_0 to this relative precision.
FLOAT32_TOL = 1e-6


class _Problems:
    """Collects violations (size and message) of the checks."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.max_violation = 0.0

    def require(self, ok: bool, violation: float, message: str) -> None:
        """Record ``message`` with its ``violation`` size unless ``ok``."""
        if not ok:
            self.messages.append(message)
            try:
                size = float(violation)
            except (TypeError, ValueError, OverflowError):
                size = math.inf
            self.max_violation = max(self.max_violation, size if math.isfinite(size) else 1e300)


def _fail(message: str) -> Verification:
    return Verification(feasible=False, objective=None, max_violation=0.0, checked_by=CHECKED_BY, message=message)


def _number_array(value: Any, length: int) -> np.ndarray | None:
    """A finite float array of ``length`` entries, or None when ``value`` is not one."""
    if not isinstance(value, list) or len(value) != length or not all(is_finite_number(v) for v in value):
        return None
    return np.array(value, dtype=np.float64)


#: Largest number of paths taken at its word (a larger or non-integral 'paths' is ignored, as if absent).
MAX_REPORTED_PATHS = 10**15


def check(inst: Instance, solution: Any) -> Verification:
    """Verify shapes, finiteness, signs, the identities tying CVA/DVA/FVA/MVA to the profiles, the first
    date and the martingale closed forms, and every adjustment against the check's own independent
    estimate; objective = CVA recomputed from EPE. A malformed solution is a failed verification, never an
    exception."""
    try:
        return _check(inst, solution)
    except (TypeError, ValueError, OverflowError, ArithmeticError, KeyError, IndexError) as error:
        # the shape checks below should catch every malformed part first; this is the last guard
        return _fail(f"the solution is malformed ({type(error).__name__}: {error})")


def _check(inst: Instance, solution: Any) -> Verification:
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
    # from here on plain floats (an int as large as 2**1000 is finite, but numpy cannot take it)
    paths = solution.get("paths")
    valid_paths = isinstance(paths, int) and not isinstance(paths, bool) and 0 <= paths <= MAX_REPORTED_PATHS
    solution = {
        **solution,
        **{name: float(solution[name]) for name in ADJUSTMENT_NAMES},
        "std_error": {name: float(errors[name]) for name in ADJUSTMENT_NAMES},
        "paths": paths if valid_paths else None,
    }
    errors = solution["std_error"]
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
    survival = (1.0 - default_probability(inst.counterparty.default, rate, times)) * (
        1.0 - default_probability(inst.bank.default, rate, times)
    )
    dt = np.diff(times)
    funding_stat = simulated and any(isinstance(p.default, StructuralDefault) for p in (inst.counterparty, inst.bank))
    funding_scale = abs(inst.funding.spread) * inst.horizon
    has_im = has_initial_margin(inst)
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
    elif "expected_im_posted" in optional:
        mva = inst.funding.spread * float(np.sum(dt * survival[1:] * optional["expected_im_posted"][1:]))
        floor = _default_noise_floor(
            funding_scale * float(np.max(optional["expected_im_posted"])), 1.0 - float(survival[-1]), solution
        )
        _require_close(problems, "mva", solution["mva"], mva, max(errors["mva"], floor), funding_stat, scale)
    _check_first_date(inst, arrays, problems, scale)
    paths = solution.get("paths")
    enough_paths = not isinstance(paths, int) or paths >= MIN_STATISTICAL_PATHS
    if inst.collateral.threshold is None and not has_im and "expected_value_std_error" in optional and enough_paths:
        _check_martingale(inst, optional, problems, scale)
    if not problems.messages:
        floors = _noise_floors(inst, solution, arrays, optional, 1.0 - float(survival[-1]), funding_scale)
        _check_independent_estimate(inst, solution, simulated, floors, problems, scale)
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
    cdf = default_probability(who.default, inst.market.rate, inst.grid())
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


def _noise_floors(
    inst: Instance,
    solution: JSON,
    arrays: dict[str, np.ndarray],
    optional: dict[str, np.ndarray],
    funding_default: float,
    funding_scale: float,
) -> dict[str, float]:
    """Per adjustment, the noise of sampling default indicators on the solution's paths (for simulated
    structural defaults, whose own standard errors miss rarely seen defaults)."""
    end = inst.grid()[-1:]
    rate = inst.market.rate
    funding_size = float(np.max(arrays["epe"] + arrays["ene"]))
    if "expected_im_posted" in optional:
        funding_size = max(funding_size, float(np.max(optional["expected_im_posted"])))
    floors = {}
    for name, party, profile in (("cva", inst.counterparty, "epe"), ("dva", inst.bank, "ene")):
        probability = float(default_probability(party.default, rate, end)[0])
        size = (1.0 - party.recovery) * float(np.max(arrays[profile]))
        floors[name] = _default_noise_floor(size, probability, solution)
    floors["fva"] = floors["mva"] = _default_noise_floor(funding_scale * funding_size, funding_default, solution)
    return floors


def _default_noise_floor(magnitude: float, default_probability: float, solution: JSON) -> float:
    """magnitude·√(F(1 − F)/n): the standard error of simulating default indicators on the solution's n
    paths. Simulated-default estimates are compared within at least this, because their own standard
    error is unreliable when defaults are rarely seen (e.g. none seen: estimate 0, standard error 0)."""
    paths = solution.get("paths")
    if not isinstance(paths, int) or isinstance(paths, bool) or paths < 1:
        return 0.0
    return magnitude * math.sqrt(default_probability * (1.0 - default_probability) / paths)


def _values_today(inst: Instance) -> np.ndarray:
    """Today's value of each trade's position (quantity × scalar closed-form price)."""
    market = inst.market
    spot = {u.name: u for u in market.underlyings}
    return np.array(
        [
            t.quantity
            * scalar_price(
                t.type,
                spot[t.underlying].spot,
                t.strike,
                t.maturity,
                market.rate,
                spot[t.underlying].dividend,
                spot[t.underlying].vol,
            )
            for t in inst.trades
        ]
    )


def _check_first_date(inst: Instance, arrays: dict[str, np.ndarray], problems: _Problems, scale: float) -> None:
    """At t_0 nothing is random: EPE_0 = PFE_0 = (V_0 − C_0 − IM_received)⁺ and ENE_0 = (C_0 − V_0 − IM_posted)⁺
    with C_0 = C*(V_0) (moved only by at least the minimum transfer) and the initial margin at t_0."""
    value = float(np.sum(_values_today(inst)))
    target = float(collateral_target(inst, np.array([value]))[0])
    collateral = target if abs(target) >= inst.collateral.minimum_transfer else 0.0
    received = posted = 0.0
    if has_initial_margin(inst):
        spots = np.array([[u.spot for u in inst.market.underlyings]])
        correlation = np.array(inst.market.correlation, dtype=np.float64)
        im = margins(inst, Book.of(inst), correlation, spots, np.zeros(1), np.array([value]))
        received, posted = float(im[0][0]), float(im[1][0])
    epe = max(value - collateral - received, 0.0)
    for name, expected in (("epe", epe), ("ene", max(collateral - value - posted, 0.0))):
        gap = abs(float(arrays[name][0]) - expected)
        problems.require(gap <= EXACT_TOL * scale, gap, f"{name} at t_0 must be {expected:.6g}")
    gap = abs(float(arrays["pfe"][0]) - epe)
    problems.require(gap <= FLOAT32_TOL * scale, gap, f"pfe at t_0 must be {epe:.6g}")


def check_paths(inst: Instance) -> int:
    """Paths of the check's independent estimate: twice the requested paths or CHECK_WORK trade pricings,
    whichever is fewer, within the bounds."""
    csa = inst.collateral
    pricings = 1 + (csa.threshold is not None)
    if csa.threshold is not None and csa.minimum_transfer > 0:
        pricings += inst.simulation.steps // 2
    if has_initial_margin(inst):
        pricings += 7
    affordable = min(CHECK_WORK // (pricings * len(inst.trades)), 2 * inst.simulation.paths)
    return int(min(max(affordable, MIN_CHECK_PATHS), MAX_CHECK_PATHS))


def _check_independent_estimate(
    inst: Instance,
    solution: JSON,
    simulated: bool,
    noise_floors: dict[str, float],
    problems: _Problems,
    scale: float,
) -> None:
    """Each adjustment must lie within INDEPENDENT_SIGMAS combined standard errors of the check's own
    estimate (reference.estimate).

    The engine's noise is taken as the larger of (a) the check's per-path deviation over the engine's
    independent units (antithetic pairs count once), an upper bound on the engine's per-unit deviation,
    and (b) the reported standard error, which shows exposures the check's sample may have missed (a rare
    positive part), but only up to what an honest one can be: for CVA, DVA and MVA every path contributes
    ≥ 0, so the standard error of their mean is at most the mean itself; FVA's is not used, except where
    structural defaults were simulated (then, as for CVA and DVA, also the default-sampling noise floor).
    """
    found = estimate(inst, check_paths(inst), inst.simulation.seed)
    paths = solution.get("paths")
    if not isinstance(paths, int) or isinstance(paths, bool) or paths < 1:
        paths = inst.simulation.paths
    units = max(paths // 2, 1) if solution.get("antithetic") is not False else paths
    structural = {
        "cva": isinstance(inst.counterparty.default, StructuralDefault),
        "dva": isinstance(inst.bank.default, StructuralDefault),
    }
    structural["fva"] = structural["mva"] = structural["cva"] or structural["dva"]
    for name, mean in found.mean.items():
        deviation = found.deviation[name]
        reported, reported_error = float(solution[name]), float(solution["std_error"][name])
        engine_error = deviation / math.sqrt(units)
        if name != "fva":
            engine_error = max(engine_error, min(reported_error, NONNEGATIVE_SE_RATIO * abs(reported)))
        if simulated and structural[name]:
            engine_error = max(engine_error, reported_error, noise_floors[name])
        combined = math.hypot(engine_error, deviation / math.sqrt(found.paths))
        gap = abs(reported - mean)
        problems.require(
            gap <= INDEPENDENT_SIGMAS * combined + EXACT_TOL * scale,
            gap,
            f"{name} = {reported:.6g} is {gap / max(combined, 1e-300):.1f} standard errors from the check's"
            f" independent estimate {mean:.6g} ({found.paths} paths)",
        )


def _check_martingale(inst: Instance, optional: dict[str, np.ndarray], problems: _Problems, scale: float) -> None:
    """Uncollateralised: E[D_k V_k] = Σ today's prices of the trades still alive at t_k (a martingale), within
    INDEPENDENT_SIGMAS reported standard errors on the dates where every traded underlying's σ²·t_k is at
    most MARTINGALE_MAX_VARIANCE (beyond it a sample's standard error understates the lognormal tail)."""
    today = _values_today(inst)
    maturities = np.array([t.maturity for t in inst.trades])
    times = inst.grid()
    alive = maturities[None, :] >= times[:, None] - 1e-10
    expected = alive.astype(np.float64) @ today
    traded = {t.underlying for t in inst.trades}
    largest_variance = max(u.vol**2 for u in inst.market.underlyings if u.name in traded)
    dates = largest_variance * times <= MARTINGALE_MAX_VARIANCE
    gap = np.where(dates, np.abs(optional["expected_value"] - expected), 0.0)
    tolerance = EXACT_TOL * scale + INDEPENDENT_SIGMAS * optional["expected_value_std_error"]
    worst = int(np.argmax(gap - tolerance))
    problems.require(
        bool(np.all(gap <= tolerance)),
        float(gap[worst]),
        f"expected_value at t_{worst} is {INDEPENDENT_SIGMAS:g} standard errors away from its closed form",
    )
