"""Initial margin of the xva solvers against brute force, state by state (issue 14).

    python bench/xva_im.py --underlyings 20 --trades 40 --states 200 --inner 20000 --time-limit 120

Generates the benchmark book (generator seed 33, VM + 99 % IM, as bench/xva.py's 20-underlying case), trains
``deep_bsde``'s layers 1 and 2 as the solver does (``--replicas`` copies sharing ``training_share ×
time_limit``; replica 0 is measured), draws ``--states``
states (a simulation date and the spots there, exactly from the model) and prints, for received and posted IM,
the mean over the states of: brute force (the check's own code: empirical quantiles of the book revalued
under ``--inner`` exact joint shocks), ``monte_carlo``'s engine (delta-gamma Cornish–Fisher with several
traded underlyings) and ``deep_bsde``'s layer 2, with each one's mean relative error and mean absolute error
against brute force.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from solvers.base import NullProgress
from solvers.runtime import Deadline
from solvers.xva import KIND
from solvers.xva import check_reference as reference
from solvers.xva.deep_bsde import train_replicas
from solvers.xva.engine import Setup, initial_margin
from solvers.xva.generate import generate
from solvers.xva.options import DeepBsdeOptions
from solvers.xva.pricing import netting_set_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--underlyings", type=int, default=20)
    parser.add_argument("--trades", type=int, default=40)
    parser.add_argument("--seed", type=int, default=33, help="generator seed of the book")
    parser.add_argument("--states", type=int, default=200, help="sampled (date, spots) states")
    parser.add_argument("--inner", type=int, default=20_000, help="brute-force shocks per state")
    parser.add_argument("--time-limit", type=float, default=120.0, help="deep_bsde time_limit_s (training share)")
    parser.add_argument("--replicas", type=int, default=8, help="replicas trained (as the solver); replica 0 measured")
    args = parser.parse_args()

    raw = generate(
        args.seed,
        underlyings=args.underlyings,
        trades=args.trades,
        paths=2000,
        steps=24,
        initial_margin=True,
        structural=False,
    )
    inst = KIND.parse(raw)
    setup = Setup.from_instance(inst)
    options = DeepBsdeOptions(time_limit_s=args.time_limit, replicas=args.replicas)
    started = time.perf_counter()
    training = train_replicas(setup, options, np.random.SeedSequence(0), Deadline(args.time_limit), NullProgress())
    train_s = time.perf_counter() - started
    _, margin = training.models[0]
    assert margin is not None

    rng = np.random.default_rng(5)
    dates = setup.sim_times[(setup.sim_times > 0) & (setup.sim_times < inst.horizon - 1e-9)]
    times = dates[rng.integers(len(dates), size=args.states)]
    states = np.einsum("pf,uf->pu", rng.standard_normal((args.states, len(setup.vol))), setup.factor)
    log_spot = setup.log_spot0 + setup.drift * times[:, None] + setup.vol * np.sqrt(times)[:, None] * states
    book = reference.Book.of(inst)
    correlation = np.array(inst.market.correlation)
    found: dict[str, list[np.ndarray]] = {"brute force": [], "monte_carlo (engine)": [], "deep_bsde (layer 2)": []}
    for t in np.unique(times):
        rows = np.flatnonzero(times == t)
        spots = np.exp(log_spot[rows])
        value = netting_set_value(setup.trades, spots, float(t), inst.market.rate)
        found["brute force"].append(
            np.vstack(
                reference.brute_force_margins(
                    inst, book, correlation, spots, np.full(len(rows), t), value, args.inner, rng
                )
            )
        )
        found["monte_carlo (engine)"].append(np.vstack(initial_margin(setup, spots, float(t), value)))
        found["deep_bsde (layer 2)"].append(np.vstack(margin.quantiles(float(t), log_spot[rows])))
    # each entry is (2, rows): received, posted
    merged = {name: np.concatenate(parts, axis=1) for name, parts in found.items()}
    brute = merged["brute force"]
    print(
        f"xva IM against brute force: {args.underlyings} underlyings, {args.trades} trades (seed {args.seed}), "
        f"{args.states} states, {args.inner} shocks each; deep_bsde trained {train_s:.1f} s "
        f"(complete: {training.complete})\n"
    )
    print("| method | received mean | rel. error | mean abs. error | posted mean | rel. error | mean abs. error |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, im in merged.items():
        cells = []
        for side in (0, 1):
            relative = im[side].mean() / brute[side].mean() - 1.0
            cells += [f"{im[side].mean():.4g}", f"{relative:+.2%}", f"{np.abs(im[side] - brute[side]).mean():.3g}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
