"""Benchmark of the task_allocation kind: profit gap to the best proven bound, time and proofs per solver.

Every answer is verified with the kind's independent ``check``. The best proven bound of an instance
is the smallest bound any exact run proved (for ``planted`` instances also the planted optimum, which
is proven by construction). gap = (bound − profit) / max(|bound|, 1e-10). All sizes, seeds and time
limits come from the arguments, so a run is bounded by about
instances × configurations × time limit. Examples (what docs/benchmarks/task_allocation.md reports):

    .venv/bin/python bench/task_allocation.py --families random --sizes 10x5 30x10 50x15 --seeds 3 \
        --configs exact:cpsat exact:highs greedy genetic --time-limit 60
    .venv/bin/python bench/task_allocation.py --families random --sizes 2000x400 --seeds 1 --time-limit 20
"""

from __future__ import annotations

import argparse
import importlib
import math
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from solvers.base import NeverCancel, NullProgress
from solvers.task_allocation import KIND
from solvers.task_allocation.generate import FAMILIES, Family, generate, planted_instance
from solvers.task_allocation.model import Instance


@dataclass
class Run:
    """One solver configuration on one instance."""

    config: str
    objective: float
    bound: float | None
    proved: bool
    seconds: float


def solve(instance: Instance, config: str, time_limit: float, seed: int) -> Run:
    """Run ``solver[:backend]`` and verify its answer independently."""
    name, _, backend = config.partition(":")
    spec = KIND.solvers[name]
    options: dict[str, Any] = {"time_limit_s": time_limit, "seed": seed}
    if backend:
        options["backend"] = backend
    started = time.monotonic()
    result = spec.load().solve(instance, spec.options(**options), NullProgress(), NeverCancel())
    seconds = time.monotonic() - started
    verdict = KIND.check(instance, result.solution or {})
    if not verdict.feasible or verdict.objective is None:
        raise AssertionError(f"{config}: infeasible answer: {verdict.message}")
    if result.objective is None or abs(verdict.objective - result.objective) > 1e-6 * max(1.0, abs(verdict.objective)):
        raise AssertionError(f"{config}: reported {result.objective}, check says {verdict.objective}")
    return Run(config, verdict.objective, result.bound, result.status.value == "optimal", seconds)


def gap(objective: float, bound: float) -> float:
    """Relative gap of a profit to a proven upper bound."""
    return max(0.0, bound - objective) / max(abs(bound), 1e-10)


def parse_size(text: str) -> tuple[int, int]:
    """``"50x15"`` -> (50, 15)."""
    agents, _, tasks = text.lower().partition("x")
    return int(agents), int(tasks)


def main() -> None:
    """Parse arguments, run every (family, size, seed, configuration), print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["random"], choices=FAMILIES)
    parser.add_argument("--sizes", nargs="+", default=["10x5", "30x10", "50x15"], help="AGENTSxTASKS")
    parser.add_argument("--capabilities", type=int, default=3, help="capabilities (stations always has 2)")
    parser.add_argument("--seeds", type=int, default=2, help="instances per family and size (seeds 0..N-1)")
    parser.add_argument("--configs", nargs="+", default=["exact", "greedy", "genetic"], help="solver or solver:backend")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per exact solve")
    parser.add_argument(
        "--heuristic-time-limit",
        type=float,
        default=None,
        help="seconds per greedy/genetic solve (default: --time-limit)",
    )
    args = parser.parse_args()
    heuristic_limit = args.heuristic_time_limit or args.time_limit
    for backend in ("highspy", "ortools.sat.python.cp_model"):  # import time stays out of the timings
        importlib.import_module(backend)

    print(
        f"task_allocation benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"Python {platform.python_version()}; time limit {args.time_limit:g} s per exact solve, "
        f"{heuristic_limit:g} s per heuristic solve, 1 thread, shared 2-core machine"
    )
    print()
    header = [
        "family",
        "agents × tasks",
        "solver",
        "proved optimal",
        "mean gap %",
        "max gap %",
        "mean s",
        "max s",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    family: Family
    for family in args.families:
        for size in args.sizes:
            agents, tasks = parse_size(size)
            runs: dict[str, list[tuple[Run, float]]] = {config: [] for config in args.configs}
            for seed in range(args.seeds):
                if family == "planted":
                    raw, planted = planted_instance(seed, agents, tasks, args.capabilities)
                else:
                    raw, planted = generate(seed, agents, tasks, args.capabilities, family=family), math.inf
                instance = KIND.parse(raw)
                results = [
                    solve(
                        instance,
                        config,
                        args.time_limit if config.startswith("exact") else heuristic_limit,
                        seed,
                    )
                    for config in args.configs
                ]
                bound = min([planted, *(r.bound for r in results if r.bound is not None)])
                best = max(r.objective for r in results)
                if not math.isfinite(bound):
                    bound = best
                for run in results:
                    runs[run.config].append((run, bound))
            for config in args.configs:
                done = runs[config]
                gaps = [100 * gap(run.objective, bound) for run, bound in done]
                seconds = [run.seconds for run, _ in done]
                proved = f"{sum(run.proved for run, _ in done)}/{len(done)}" if config.startswith("exact") else "–"
                cells = [family, f"{agents} × {tasks}", config, proved]
                cells += [f"{statistics.mean(gaps):.2f}", f"{max(gaps):.2f}"]
                cells += [f"{statistics.mean(seconds):.2f}", f"{max(seconds):.2f}"]
                print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
