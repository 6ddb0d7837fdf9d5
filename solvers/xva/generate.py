"""Random xva instances (netting sets on correlated GBM underlyings) for tests, benchmarks and training."""

from __future__ import annotations

import numpy as np

from solvers.base import JSON

TRADE_TYPES = ("european_call", "european_put", "forward")


def random_correlation(rng: np.random.Generator, size: int, factors: int = 2) -> list[list[float]]:
    """A positive semi-definite matrix with unit diagonal: normalised rows of a random loading matrix."""
    loadings = rng.normal(size=(size, factors + 1))
    loadings[:, 0] = np.abs(loadings[:, 0]) + 0.5
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True)
    rho = loadings @ loadings.T
    np.fill_diagonal(rho, 1.0)
    return [[round(float(x), 12) for x in row] for row in rho]


def generate(
    seed: int,
    underlyings: int = 3,
    trades: int = 10,
    paths: int = 2_000,
    steps: int = 50,
    max_maturity_quarters: int = 8,
    collateralised: bool = True,
    initial_margin: bool = False,
    structural: bool = True,
) -> JSON:
    """A raw instance dict: random spots, vols, trades (maturities on quarter years), CSA and parties."""
    rng = np.random.default_rng(seed)
    names = [f"S{i + 1}" for i in range(underlyings)]
    spots = rng.uniform(50.0, 150.0, size=underlyings).round(2)
    market = {
        "rate": round(float(rng.uniform(0.0, 0.04)), 4),
        "underlyings": [
            {
                "name": name,
                "spot": float(spot),
                "vol": round(float(rng.uniform(0.1, 0.4)), 3),
                "dividend": round(float(rng.uniform(0.0, 0.03)), 4),
            }
            for name, spot in zip(names, spots, strict=True)
        ],
        "correlation": random_correlation(rng, underlyings),
    }
    trade_list = []
    for j in range(trades):
        i = int(rng.integers(underlyings))
        trade_list.append(
            {
                "id": f"t{j + 1}",
                "type": TRADE_TYPES[int(rng.integers(len(TRADE_TYPES)))],
                "underlying": names[i],
                "strike": round(float(spots[i] * rng.uniform(0.8, 1.2)), 2),
                "maturity": int(rng.integers(1, max_maturity_quarters + 1)) / 4,
                "quantity": round(float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 5.0)), 2),
            }
        )
    collateral = {
        "threshold": round(float(rng.uniform(0.0, 20.0)), 2) if collateralised else None,
        "minimum_transfer": round(float(rng.uniform(0.0, 2.0)), 2) if collateralised else 0.0,
        "margin_period_days": 10,
        "initial_margin": {"quantile": 0.99} if initial_margin else None,
    }
    bank_default: JSON = (
        {
            "model": "structural",
            "asset": 100.0,
            "vol": round(float(rng.uniform(0.15, 0.3)), 3),
            "barrier": round(float(rng.uniform(40.0, 70.0)), 1),
        }
        if structural
        else {"model": "hazard", "rate": round(float(rng.uniform(0.005, 0.03)), 4)}
    )
    return {
        "market": market,
        "trades": trade_list,
        "collateral": collateral,
        "counterparty": {
            "recovery": 0.4,
            "default": {"model": "hazard", "rate": round(float(rng.uniform(0.01, 0.05)), 4)},
        },
        "bank": {"recovery": 0.4, "default": bank_default},
        "funding": {"spread": round(float(rng.uniform(0.0, 0.02)), 4)},
        "simulation": {"paths": paths, "steps": steps, "seed": seed},
    }
