"""The ``xva`` instance: market, trades, collateral, parties, funding and simulation settings."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solvers.base import JSON, InvalidInstance, errors_from_validation

#: Size caps (a larger instance is answered with 422 naming the cap).
MAX_UNDERLYINGS = 100
MAX_TRADES = 2_000
MAX_PATHS = 1_000_000
MAX_STEPS = 2_000
#: paths × (steps + 1): the per-path exposures kept for the PFE quantile (float32, 200 MB at the cap).
MAX_PATH_DATES = 50_000_000
MAX_MATURITY_YEARS = 50.0
#: Largest total variance σ²·T of an underlying up to its last trade's maturity. Beyond it the lognormal's
#: mean sits in a tail that the simulated paths rarely reach: the estimates collapse towards 0 with standard
#: errors that understate it (CVA 0 ± 0 against a closed form of 38 at σ = 5, T = 50), so such instances are
#: refused rather than answered wrongly (docs/kinds/xva.md has the measurements).
MAX_TOTAL_VARIANCE = 4.0
#: Tolerance of the correlation checks (symmetry, unit diagonal, smallest eigenvalue).
CORRELATION_TOL = 1e-8


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_M = TypeVar("_M", bound=_Model)


class Underlying(_Model):
    """An equity or FX-style underlying following a GBM under the risk-neutral measure."""

    name: str = Field(min_length=1, max_length=64)
    spot: float = Field(gt=0, le=1e9, description="Spot price S_0.")
    vol: float = Field(gt=0, le=5.0, description="Lognormal volatility σ per year.")
    dividend: float = Field(0.0, ge=-1.0, le=1.0, description="Continuous dividend yield (or foreign rate) q.")


class Market(_Model):
    """Flat rate, underlyings and their correlation matrix."""

    rate: float = Field(ge=-0.5, le=1.0, description="Flat continuously compounded risk-free rate r.")
    underlyings: list[Underlying] = Field(min_length=1, max_length=MAX_UNDERLYINGS)
    correlation: list[list[float]] = Field(description="Symmetric positive semi-definite, unit diagonal.")


class Trade(_Model):
    """A European call, put or forward on one underlying."""

    id: str = Field(min_length=1, max_length=64)
    type: Literal["european_call", "european_put", "forward"]
    underlying: str
    strike: float = Field(ge=0, le=1e12)
    maturity: float = Field(gt=0, le=MAX_MATURITY_YEARS, description="Years from today.")
    quantity: float = Field(ge=-1e9, le=1e9, description="Negative for a short position.")


class InitialMargin(_Model):
    """Initial margin at a quantile of the netting set's value change over the margin period."""

    quantile: float = Field(0.99, gt=0.5, lt=1.0)


class Collateral(_Model):
    """The CSA: variation margin with threshold and minimum transfer, lagged by the margin period."""

    threshold: float | None = Field(None, ge=0, le=1e15, description="null: uncollateralised.")
    minimum_transfer: float = Field(0.0, ge=0, le=1e15)
    margin_period_days: float = Field(10.0, ge=0, le=365)
    initial_margin: InitialMargin | None = None


class HazardDefault(_Model):
    """Default at a constant intensity: F(t) = 1 − exp(−λt)."""

    model: Literal["hazard"]
    rate: float = Field(ge=0, le=10.0, description="Intensity λ per year.")


class StructuralDefault(_Model):
    """Black–Cox first passage of X_t = X_0·exp((r − s²/2)t + sW_t) below a barrier."""

    model: Literal["structural"]
    asset: float = Field(gt=0, le=1e12, description="Asset value X_0.")
    vol: float = Field(gt=0, le=5.0, description="Asset volatility s.")
    barrier: float = Field(gt=0, le=1e12, description="Default barrier, below X_0.")


DefaultModel = Annotated[HazardDefault | StructuralDefault, Field(discriminator="model")]


class Party(_Model):
    """The counterparty or the bank: recovery rate and default model."""

    recovery: float = Field(0.4, ge=0, le=1)
    default: DefaultModel


class Funding(_Model):
    """Symmetric funding spread over the risk-free rate."""

    spread: float = Field(0.0, ge=-0.1, le=1.0)


class Simulation(_Model):
    """Monte Carlo settings: number of paths, grid steps and seed."""

    paths: int = Field(20_000, ge=4, le=MAX_PATHS)
    steps: int = Field(100, ge=1, le=MAX_STEPS)
    seed: int = Field(1, ge=0, le=2**63 - 1)


class Instance(_Model):
    """A netting set with its market, CSA, parties, funding and simulation settings."""

    market: Market
    trades: list[Trade] = Field(min_length=1, max_length=MAX_TRADES)
    collateral: Collateral = Field(default_factory=Collateral)
    counterparty: Party
    bank: Party
    funding: Funding = Field(default_factory=Funding)
    simulation: Simulation = Field(default_factory=Simulation)

    @property
    def horizon(self) -> float:
        """T, the longest maturity: the last grid date."""
        return max(t.maturity for t in self.trades)

    @property
    def margin_period(self) -> float:
        """δ in years (days / 365)."""
        return self.collateral.margin_period_days / 365.0

    def grid(self) -> np.ndarray:
        """The exposure dates t_k = k·T/N, k = 0 … N."""
        steps = self.simulation.steps
        return np.arange(steps + 1, dtype=np.float64) * (self.horizon / steps)

    def underlying_index(self) -> dict[str, int]:
        """Underlying name -> its position in ``market.underlyings``."""
        return {u.name: i for i, u in enumerate(self.market.underlyings)}


def _validated(model: type[_M], raw: Any) -> _M | None:
    """``raw`` validated as ``model``, or None when it is not valid on its own."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _section_errors(raw: dict[str, Any]) -> list[JSON]:
    """Cross-field problems pydantic cannot see, in every section that is valid on its own (so they are
    listed together with the field errors of the other sections): names, correlation, barriers, sizes."""
    errors: list[JSON] = []
    market = _validated(Market, raw.get("market"))
    names: set[str] | None = None
    if market is not None:
        names = set()
        for i, underlying in enumerate(market.underlyings):
            if underlying.name in names:
                errors.append(
                    {"loc": ["market", "underlyings", i, "name"], "msg": f"duplicate underlying {underlying.name!r}"}
                )
            names.add(underlying.name)
        errors.extend(_correlation_errors(market.correlation, len(market.underlyings)))
    raw_trades = raw.get("trades")
    trade_ids: set[str] = set()
    last_maturity: dict[str, tuple[float, str]] = {}
    for j, item in enumerate(raw_trades if isinstance(raw_trades, list) else []):
        trade = _validated(Trade, item)
        if trade is None:
            continue
        if names is not None and trade.underlying not in names:
            errors.append(
                {
                    "loc": ["trades", j, "underlying"],
                    "msg": f"unknown underlying {trade.underlying!r}; use one of market.underlyings' names",
                }
            )
        if trade.maturity > last_maturity.get(trade.underlying, (0.0, ""))[0]:
            last_maturity[trade.underlying] = (trade.maturity, trade.id)
        if trade.id in trade_ids:
            errors.append({"loc": ["trades", j, "id"], "msg": f"duplicate trade id {trade.id!r}"})
        trade_ids.add(trade.id)
        if trade.type != "forward" and trade.strike <= 0:
            errors.append({"loc": ["trades", j, "strike"], "msg": "an option's strike must be > 0"})
    if market is not None:
        errors.extend(_variance_errors(market, last_maturity))
    for name in ("counterparty", "bank"):
        party = _validated(Party, raw.get(name))
        if (
            party is not None
            and isinstance(party.default, StructuralDefault)
            and party.default.barrier >= party.default.asset
        ):
            errors.append(
                {
                    "loc": [name, "default", "barrier"],
                    "msg": "the barrier must lie below the asset value (else the party has defaulted)",
                }
            )
    sim = _validated(Simulation, raw.get("simulation", {}))
    if sim is not None and sim.paths * (sim.steps + 1) > MAX_PATH_DATES:
        errors.append(
            {
                "loc": ["simulation", "paths"],
                "msg": f"paths × (steps + 1) = {sim.paths * (sim.steps + 1)} exceeds the limit "
                f"MAX_PATH_DATES = {MAX_PATH_DATES}; use fewer paths or steps",
            }
        )
    return errors


def _variance_errors(market: Market, last_maturity: dict[str, tuple[float, str]]) -> list[JSON]:
    """An underlying's σ²·T up to its last trade's maturity T must stay within MAX_TOTAL_VARIANCE."""
    errors: list[JSON] = []
    for i, underlying in enumerate(market.underlyings):
        maturity, trade = last_maturity.get(underlying.name, (0.0, ""))
        variance = underlying.vol**2 * maturity
        if variance > MAX_TOTAL_VARIANCE:
            errors.append(
                {
                    "loc": ["market", "underlyings", i, "vol"],
                    "msg": f"vol² × maturity of trade {trade!r} = {underlying.vol:g}² × {maturity:g} = {variance:.4g}"
                    f" exceeds MAX_TOTAL_VARIANCE = {MAX_TOTAL_VARIANCE:g}: Monte Carlo cannot reach the tail"
                    f" that carries this lognormal's mean (the estimates would collapse towards 0); use vol ≤"
                    f" {math.sqrt(MAX_TOTAL_VARIANCE / maturity):.3g} for this maturity",
                }
            )
    return errors


def _correlation_errors(corr: list[list[float]], n: int) -> list[JSON]:
    """Shape, finiteness, unit diagonal, symmetry and positive semi-definiteness of the correlation."""
    loc: list[str | int] = ["market", "correlation"]
    if len(corr) != n or any(len(row) != n for row in corr):
        return [{"loc": loc, "msg": f"must be a {n}×{n} matrix (one row and column per underlying)"}]
    matrix = np.array(corr, dtype=np.float64)
    if not np.all(np.isfinite(matrix)):
        return [{"loc": loc, "msg": "entries must be finite numbers"}]
    errors: list[JSON] = []
    for i in range(n):
        if abs(matrix[i, i] - 1.0) > CORRELATION_TOL:
            errors.append({"loc": [*loc, i, i], "msg": "diagonal entries must be 1"})
    if np.any(np.abs(matrix) > 1.0 + CORRELATION_TOL):
        errors.append({"loc": loc, "msg": "entries must lie in [-1, 1]"})
    if not np.allclose(matrix, matrix.T, atol=CORRELATION_TOL, rtol=0.0):
        errors.append({"loc": loc, "msg": "must be symmetric"})
    elif not errors:
        smallest = float(np.linalg.eigvalsh(matrix)[0])
        if smallest < -1e-8 * n:
            errors.append(
                {
                    "loc": loc,
                    "msg": f"must be positive semi-definite (smallest eigenvalue {smallest:.3g}); "
                    "use a valid correlation matrix",
                }
            )
    return errors


def parse(raw: Any) -> Instance:
    """Validate a raw JSON instance; raise InvalidInstance listing every problem."""
    if not isinstance(raw, dict):
        raise InvalidInstance([{"loc": [], "msg": "the instance must be a JSON object"}])
    try:
        errors = _section_errors(raw)
        inst = Instance.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInstance(errors_from_validation(exc) + errors) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidInstance([{"loc": [], "msg": f"unreadable instance: {exc}"}]) from None
    if errors:
        raise InvalidInstance(errors)
    return inst


def summary(inst: Instance) -> JSON:
    """Sizes of the instance."""
    return {
        "underlyings": len(inst.market.underlyings),
        "trades": len(inst.trades),
        "paths": inst.simulation.paths,
        "steps": inst.simulation.steps,
        "horizon_years": inst.horizon,
        "collateralised": inst.collateral.threshold is not None,
        "initial_margin": inst.collateral.initial_margin is not None,
    }


def is_finite_number(value: Any) -> bool:
    """True for a real, finite int or float (bools excluded; an int beyond float's range is not finite)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
