"""Every knapsack_2ro solver at a short time limit: wall time of solve + check, and what it returned.

Runs each solver on the published instances of the sizes asked for (one at a time, in this process, so
the times are not shared with other runs of this script), then the kind's check on the answer, and prints
per solver the worst and mean wall time of solve + check, the worst check time, how many answers came
later than limit + 1 s, were no_solution or failed the check, and the terminations (issue 19: every
solver returns a verified solution at a 1 s limit, within limit + 1 s).

Examples (the second runs all 504, split over two processes for a 2-core machine):
    .venv/bin/python bench/knapsack_2ro_one_second.py --n 80 --time-limit 1
    .venv/bin/python bench/knapsack_2ro_one_second.py --n 20 50 60 --time-limit 1 &
    .venv/bin/python bench/knapsack_2ro_one_second.py --n 30 40 70 80 --time-limit 1
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from solvers.base import NeverCancel, NullProgress, SolutionStatus
from solvers.knapsack_2ro import KIND
from solvers.knapsack_2ro.check import check
from solvers.knapsack_2ro.schema import parse

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rkp" / "instances"


def main() -> None:
    """Parse arguments, run every solver on every instance, print one line per solver."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--n", type=int, nargs="*", default=[80], help="instance sizes (file names contain _n<N>_); none: all"
    )
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=None, help="only the first this many instances")
    parser.add_argument("--solvers", nargs="*", default=list(KIND.solvers))
    args = parser.parse_args()
    sizes = args.n or [20, 30, 40, 50, 60, 70, 80]
    paths = sorted(p for n in sizes for p in args.data.rglob(f"*_n{n}_*") if p.is_file())[: args.limit]
    print(f"{len(paths)} instances of n = {', '.join(map(str, sizes))}, time limit {args.time_limit} s")
    for name in args.solvers:
        spec = KIND.solvers[name]
        solver = spec.load()
        worst, total, worst_check, no_solution, rejected, worst_name = 0.0, 0.0, 0.0, 0, 0, ""
        over_limit = 0  # solve + check later than the limit + 1 s
        terminations: Counter[str] = Counter()
        for path in paths:
            instance = parse({"format": "ad", "text": path.read_text()})
            options = spec.options(time_limit_s=args.time_limit)
            started = time.perf_counter()
            result = solver.solve(instance, options, NullProgress(), NeverCancel())
            check_started = time.perf_counter()
            terminations[result.termination.value] += 1
            if result.solution is None:
                no_solution += 1
            else:
                verdict = check(instance, result.solution)
                ok = verdict.feasible and verdict.objective is not None and result.objective is not None
                if not ok or abs(verdict.objective - result.objective) > 1e-6 * max(1.0, abs(verdict.objective)):
                    rejected += 1
            done = time.perf_counter()
            worst_check = max(worst_check, done - check_started)
            total += done - started
            over_limit += done - started > args.time_limit + 1.0
            if done - started > worst:
                worst, worst_name = done - started, path.name
            if result.status is SolutionStatus.no_solution:
                print(f"  {name}: no_solution on {path.name} ({result.termination.value})")
        print(
            f"{name}: worst solve+check {worst:.2f} s ({worst_name}), mean {total / max(len(paths), 1):.2f} s, "
            f"worst check {worst_check:.2f} s, over limit + 1 s {over_limit}, no_solution {no_solution}, "
            f"rejected {rejected}, "
            f"terminations {dict(terminations)}"
        )


if __name__ == "__main__":
    main()
