"""Netting-set values from nodes agree with pricing every path, near expiry and on maturity dates too."""

from __future__ import annotations

import numpy as np

from solvers.xva.engine import Setup
from solvers.xva.generate import generate
from solvers.xva.pricing import netting_set_value, tabulated_netting_set_value
from solvers.xva.schema import parse


def test_values_from_nodes_match_path_by_path_pricing() -> None:
    setup = Setup.from_instance(parse(generate(8, underlyings=3, trades=40, max_maturity_quarters=8)))
    rng = np.random.default_rng(2)
    rate = setup.inst.market.rate
    # dates across the horizon, including quarter-year maturity dates and instants just before them
    for time in (0.05, 0.5, 0.749, 0.75, 1.0, 1.4, 1.999, 2.0):
        shocks = rng.standard_normal((4_000, len(setup.vol)))
        spots = np.exp(setup.log_spot0 + setup.drift * time + setup.vol * np.sqrt(time) * shocks)
        exact = netting_set_value(setup.trades, spots, time, rate)
        tabulated = tabulated_netting_set_value(setup.trades, spots, time, rate)
        assert np.max(np.abs(tabulated - exact)) <= 1e-4 * max(1.0, float(np.max(np.abs(exact))))
