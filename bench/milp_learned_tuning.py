"""How long ``predict_and_search``'s restricted phase should run, on development instances (not held out).

Solves each development seed with HiGHS alone and with ``predict_and_search`` at each restricted-phase cap,
one thread, and prints the verified objectives. The default of ``restricted_time_cap_s`` was chosen with

    .venv/bin/python bench/milp_learned_tuning.py --family combinatorial_auction --seeds 100 101 102 103 104 105 \\
        --time-limit 30 --caps 15 5
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

from solvers.base import NeverCancel, NullProgress
from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, Family
from solvers.milp.learned.families import HELD_OUT_SEEDS
from solvers.milp.learned.labels import instance_model
from solvers.milp.learned.options import PredictAndSearchOptions
from solvers.milp.learned.solver import PredictAndSearchSolver


def solve(family: Family, seed: int, time_limit: float, cap: float | None) -> float | None:
    """The verified objective of HiGHS (cap None) or predict_and_search with that cap on one instance."""
    model = instance_model(family, seed)
    if cap is None:
        highs = KIND.solvers["highs"].load()
        result = highs.solve(model, highs.Options(time_limit_s=time_limit, threads=1), NullProgress(), NeverCancel())
    else:
        options = PredictAndSearchOptions(time_limit_s=time_limit, threads=1, restricted_time_cap_s=cap)
        result = PredictAndSearchSolver().solve(model, options, NullProgress(), NeverCancel())
    if result.solution is None:
        return None
    check = KIND.check(model, result.solution)
    return check.objective if check.feasible else None


def main() -> None:
    """Run every seed × setting and print one row per seed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="combinatorial_auction", choices=FAMILIES)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(100, 106)))
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--caps", nargs="+", type=float, default=[15.0, 5.0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if set(args.seeds) & set(HELD_OUT_SEEDS):
        parser.error("tuning runs on development seeds only, never on the benchmark's held-out seeds")
    settings: list[float | None] = [None, *args.caps]
    tasks = [(args.family, seed, args.time_limit, cap) for seed in args.seeds for cap in settings]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        objectives = list(pool.map(solve, *zip(*tasks, strict=True)))
    names = ["highs", *(f"cap {cap:g} s" for cap in args.caps)]
    print(f"| seed | {' | '.join(names)} |\n|---:|{'---:|' * len(names)}")
    for row, seed in enumerate(args.seeds):
        values = objectives[row * len(settings) : (row + 1) * len(settings)]
        print(f"| {seed} | {' | '.join('-' if v is None else f'{v:g}' for v in values)} |")


if __name__ == "__main__":
    main()
