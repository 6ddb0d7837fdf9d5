"""Benchmark of the milp back-ends: solved count, time to optimal and primal gap at a fixed time limit.

Runs every back-end on the development MPS files (examples/milp) and on seeded instances of the
generated families, then prints markdown tables. The ``auto`` row uses, per instance, the result of the
back-end that ``KIND.choose_auto`` picks (the same solve; nothing is run twice).

    .venv/bin/python bench/milp.py --time-limit 10 --seeds 2
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from solvers.base import NeverCancel, NullProgress, SolutionStatus, SolverRefused, Termination
from solvers.milp import KIND
from solvers.milp.generate import generate
from solvers.milp.schema import MilpModel

DATA_DIR = Path(__file__).resolve().parents[1] / "examples" / "milp"  # the development MPS files
FAMILY_SIZES: dict[str, dict[str, Any]] = {
    "set_cover": {"rows": 250, "columns": 500},
    "combinatorial_auction": {"items": 60, "bids": 300},
    "facility_location": {"customers": 60, "facilities": 25},
    "facility_location_ss": {"customers": 40, "facilities": 15, "single_source": True},
    "independent_set": {"nodes": 300},
}
BACKENDS = ("highs", "cpsat", "scip")


@dataclass
class Run:
    """One back-end on one instance."""

    status: str
    solved: bool
    seconds: float
    objective: float | None


def scaled(sizes: dict[str, Any], factor: float) -> dict[str, Any]:
    """Family sizes with every integer dimension multiplied by ``factor``."""
    return {k: max(2, round(v * factor)) if type(v) is int else v for k, v in sizes.items()}


def instances(seeds: int, families: list[str], dev: bool, factor: float) -> list[tuple[str, MilpModel]]:
    """The benchmark set: development files, then seeded generated instances."""
    out: list[tuple[str, MilpModel]] = []
    if dev:
        for path in sorted(DATA_DIR.glob("*.mps")):
            out.append((path.stem, KIND.parse({"format": "mps", "model": path.read_text()})))
    for family in families:
        for seed in range(seeds):
            sizes = scaled(FAMILY_SIZES[family], factor)
            raw = generate(seed, family.removesuffix("_ss"), **sizes)  # type: ignore[arg-type]
            out.append((f"{family}-{seed}", KIND.parse(raw)))
    return out


def run(backend: str, model: MilpModel, time_limit: float, rel_gap: float, threads: int) -> Run:
    """Solve once and time it."""
    solver = KIND.solvers[backend].load()
    options = solver.Options(time_limit_s=time_limit, rel_gap=rel_gap, threads=threads)
    started = time.perf_counter()
    try:
        result = solver.solve(model, options, NullProgress(), NeverCancel())
    except SolverRefused:
        return Run("refused", False, math.nan, None)
    seconds = time.perf_counter() - started
    if result.solution is not None and not KIND.check(model, result.solution).feasible:
        return Run("WRONG", False, seconds, None)
    solved = result.termination in (Termination.optimal, Termination.gap_limit) or result.status in (
        SolutionStatus.infeasible,
        SolutionStatus.unbounded,
    )
    return Run(result.termination.value, solved, seconds, result.objective)


def primal_gap(objective: float | None, best: float | None) -> float:
    """Berthold's primal gap: 0 at the best known value, 1 without a solution."""
    if objective is None or best is None:
        return 1.0
    if objective == best:
        return 0.0
    if objective * best < 0:
        return 1.0
    return abs(objective - best) / max(abs(objective), abs(best))


def shifted_geometric_mean(values: list[float], shift: float = 1.0) -> float:
    """exp(mean(log(v + shift))) − shift, the usual MIP benchmark mean."""
    if not values:
        return math.nan
    return math.exp(sum(math.log(v + shift) for v in values) / len(values)) - shift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve (default 10)")
    parser.add_argument("--rel-gap", type=float, default=1e-4, help="relative gap to stop at (default 1e-4)")
    parser.add_argument("--seeds", type=int, default=2, help="instances per family (default 2)")
    parser.add_argument("--size-factor", type=float, default=1.0, help="scale family sizes (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads per solve (default 1)")
    parser.add_argument("--families", default=",".join(FAMILY_SIZES), help="comma-separated families")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated back-ends")
    parser.add_argument("--no-dev", action="store_true", help="skip the development MPS files")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    families = [f for f in args.families.split(",") if f]

    bench = instances(args.seeds, families, not args.no_dev, args.size_factor)
    results: dict[str, dict[str, Run]] = {}
    for name, model in bench:
        results[name] = {b: run(b, model, args.time_limit, args.rel_gap, args.threads) for b in backends}
    choice = {name: KIND.choose_auto(model) if KIND.choose_auto else KIND.default_solver for name, model in bench}
    columns = [*backends, "auto"] if all(choice[n] in backends for n in choice) else backends

    def get(name: str, column: str) -> Run:
        return results[name][choice[name] if column == "auto" else column]

    best = {
        name: min(
            (r.objective for r in runs.values() if r.objective is not None),
            key=lambda v, m=model: v if m.sense == "minimize" else -v,  # type: ignore[misc]
            default=None,
        )
        for (name, model), runs in zip(bench, results.values(), strict=True)
    }
    print(f"milp benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()} (shared 2-core machine)")
    print(
        f"time limit {args.time_limit:g} s, rel_gap {args.rel_gap:g}, threads {args.threads}, "
        f"seeds {args.seeds}, size factor {args.size_factor:g}\n"
    )
    print("| instance | vars | rows | int | " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|" + "---|" * len(columns))
    for name, model in bench:
        cells = []
        for column in columns:
            r = get(name, column)
            label = f"{r.status} {r.seconds:.2f}s" if r.status != "refused" else "refused"
            if column == "auto":
                label = f"→{choice[name]}"
            cells.append(label)
        print(f"| {name} | {model.num_vars} | {model.num_rows} | {model.num_integer} | " + " | ".join(cells) + " |")
    print("\n| back-end | solved | refused | wrong | time to optimal, sgm (s) | mean primal gap |")
    print("|---|---:|---:|---:|---:|---:|")
    for column in columns:
        runs = [get(name, column) for name, _ in bench]
        solved = sum(r.solved for r in runs)
        refused = sum(r.status == "refused" for r in runs)
        wrong = sum(r.status == "WRONG" for r in runs)
        times = [r.seconds if r.solved else args.time_limit for r in runs if r.status != "refused"]
        gaps = [primal_gap(get(name, column).objective, best[name]) for name, _ in bench]
        print(
            f"| {column} | {solved}/{len(runs)} | {refused} | {wrong} | {shifted_geometric_mean(times):.2f} "
            f"| {sum(gaps) / len(gaps):.4f} |"
        )


if __name__ == "__main__":
    main()
