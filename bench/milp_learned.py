"""Benchmark of ``predict_and_search`` against HiGHS, CP-SAT and SCIP on held-out instances (issue 12).

For each family, held-out seeds (disjoint from the training seeds), each solver at each time limit, one
thread: the mean primal gap (Berthold) at the end and the primal integral over the run, both against the
best objective known for the instance: the best of the long reference runs (recorded in
bench/data/milp_learned_reference.json under the family's generator sizes, each as soon as it ends, and
reused when present, so an interrupted reference step resumes; every reference recorded for the instance
counts, whatever its solver or length) and of every run here. Every answer is
verified by the kind's check; the tables count the wrong ones and the worst overrun of the time limit.

The full protocol (30 instances per family, 10 s and 30 s, 10-minute HiGHS and CP-SAT references):

    .venv/bin/python bench/milp_learned.py

A reduced run (what docs/benchmarks/milp_learned.md reports, there as two processes of two families each):

    .venv/bin/python bench/milp_learned.py --instances 5 --time-limits 10 30 --reference-time 60 \
        --reference-solvers highs --jobs 2

Runs saved with --runs-output can be extended to further seeds (--first-instance) and counted again
(--runs-input; --instances 0 prints the tables from saved runs alone).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from solvers.base import JSON, NeverCancel, SolutionStatus
from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, Family
from solvers.milp.learned.families import FAMILY_SIZES, HELD_OUT_SEEDS
from solvers.milp.learned.labels import instance_model
from solvers.milp.schema import MilpModel

REFERENCE_PATH = Path(__file__).resolve().parent / "data" / "milp_learned_reference.json"
SOLVERS = ("predict_and_search", "highs", "cpsat", "scip")


def instance_key(family: str, seed: int) -> str:
    """The instance part of a reference key: the family's generator sizes are part of it, so a run
    recorded at other sizes is never reused."""
    sizes = ",".join(f"{name}={value}" for name, value in sorted(FAMILY_SIZES[family].items()))  # type: ignore[index]
    return f"{family}[{sizes}]/{seed}"


def reference_key(family: str, seed: int, solver: str, time_limit: float) -> str:
    """Key of a reference run in the JSON file."""
    return f"{instance_key(family, seed)}/{solver}/{time_limit:g}"


class TimedProgress:
    """Records when each improving incumbent arrived (seconds from the start of the solve)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.incumbents: list[tuple[float, float]] = []

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        self.incumbents.append((time.monotonic() - self.started, objective))

    def bound(self, bound: float) -> None:
        """Bounds do not enter the primal measures."""

    def log(self, message: str) -> None:
        """Logs are not kept."""


@dataclass
class Run:
    """One solver on one instance at one time limit."""

    family: str
    seed: int
    solver: str
    time_limit: float
    status: str
    objective: float | None
    seconds: float
    verified: bool | None  # None: no solution to check
    incumbents: list[tuple[float, float]] = field(default_factory=list)


@lru_cache(maxsize=2)
def held_out_model(family: Family, seed: int) -> MilpModel:
    """The instance, generated once per worker process for the runs that follow each other on it (an
    auction takes 15–20 s to generate; no solver changes the model it is given)."""
    return instance_model(family, seed)


def solve(family: Family, seed: int, solver_name: str, time_limit: float) -> Run:
    """Solve one held-out instance (in a worker process) and verify the answer."""
    model = held_out_model(family, seed)
    refused = KIND.refusal(model, solver_name) if KIND.refusal is not None else None
    if refused:
        return Run(family, seed, solver_name, time_limit, "refused", None, 0.0, None)
    solver = KIND.solvers[solver_name].load()
    options = solver.Options(time_limit_s=time_limit, threads=1)
    progress = TimedProgress()
    result = solver.solve(model, options, progress, NeverCancel())
    seconds = time.monotonic() - progress.started
    verified = None
    objective = None
    if result.solution is not None and result.status in (SolutionStatus.feasible, SolutionStatus.optimal):
        check = KIND.check(model, result.solution)
        verified = check.feasible
        objective = check.objective if check.feasible else None
    return Run(
        family, seed, solver_name, time_limit, result.status.value, objective, seconds, verified, progress.incumbents
    )


def primal_gap(objective: float | None, best: float | None) -> float:
    """Berthold's primal gap: 0 when equal, 1 without a solution or with opposite signs."""
    if objective is None or best is None:
        return 1.0
    if abs(objective - best) <= 1e-9 * max(1.0, abs(best)):
        return 0.0
    if objective * best < 0:
        return 1.0
    return abs(objective - best) / max(abs(objective), abs(best))


def primal_integral(run: Run, best: float | None) -> float:
    """∫₀ᵀ γ(t) dt over the run's incumbents (γ = 1 before the first), T the time limit, in seconds."""
    total, last_time, gap = 0.0, 0.0, 1.0
    for at, objective in run.incumbents:
        at = min(at, run.time_limit)
        total += gap * (at - last_time)
        last_time, gap = at, primal_gap(objective, best)
    return total + gap * max(run.time_limit - last_time, 0.0)


def earlier_runs(path: Path) -> list[Run]:
    """The runs a previous invocation wrote with --runs-output."""
    return [Run(**{**run, "incumbents": [tuple(i) for i in run["incumbents"]]}) for run in json.loads(path.read_text())]


def run_key(run: Run) -> tuple[str, int, str, float]:
    """What identifies a run: instance, solver and time limit."""
    return run.family, run.seed, run.solver, run.time_limit


def better(sense: str, a: float | None, b: float | None) -> float | None:
    """The better of two objectives (None: none)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b) if sense == "minimize" else max(a, b)


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument(
        "--first-instance", type=int, default=0, help="skip this many held-out seeds (to extend an earlier run)"
    )
    parser.add_argument("--time-limits", nargs="+", type=float, default=[10.0, 30.0])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--reference-time", type=float, default=600.0)
    parser.add_argument("--reference-solvers", nargs="+", default=["highs", "cpsat"], choices=SOLVERS)
    parser.add_argument("--jobs", type=int, default=1, help="solves run at the same time (one thread each)")
    parser.add_argument("--reference-only", action="store_true", help="record the missing references and stop")
    parser.add_argument("--runs-output", type=Path, help="write every run as JSON here")
    parser.add_argument(
        "--runs-input",
        type=Path,
        nargs="*",
        default=[],
        help="runs written earlier by --runs-output, counted in the tables too (a run in several files: the "
        "last one); with --instances 0 the tables come from these alone",
    )
    args = parser.parse_args()
    started = datetime.now(UTC)
    seeds = HELD_OUT_SEEDS[args.first_instance : args.first_instance + args.instances]
    instances = [(family, seed) for family in args.families for seed in seeds]
    recorded: dict[str, Any] = json.loads(REFERENCE_PATH.read_text()) if REFERENCE_PATH.exists() else {}
    missing = [
        (family, seed, solver, args.reference_time)
        for family, seed in instances
        for solver in args.reference_solvers
        if reference_key(family, seed, solver, args.reference_time) not in recorded
    ]
    tasks = [(f, s, solver, limit) for f, s in instances for limit in args.time_limits for solver in args.solvers]
    if args.reference_only:
        tasks = []
    # a run saved in two input files counts once, from the later file (a rerun after a change replaces it)
    earlier = list(
        {
            run_key(run): run
            for path in args.runs_input
            for run in earlier_runs(path)
            if run.family in args.families and run.time_limit in args.time_limits and run.solver in args.solvers
        }.values()
    )
    duplicated = {tuple(task) for task in tasks} & set(map(run_key, earlier))
    if duplicated:
        parser.error(f"--runs-input repeats runs of this invocation, e.g. {sorted(duplicated)[0]}")
    REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        # each reference is written as soon as it ends (merged into the file as it is then, so runs of other
        # families may record theirs at the same time), and an interrupted run resumes where it stopped
        for future in as_completed([pool.submit(solve, *reference) for reference in missing]):
            ref = future.result()
            recorded = json.loads(REFERENCE_PATH.read_text()) if REFERENCE_PATH.exists() else {}
            recorded[reference_key(ref.family, ref.seed, ref.solver, ref.time_limit)] = {
                "objective": ref.objective,
                "status": ref.status,
                "seconds": round(ref.seconds, 2),
            }
            REFERENCE_PATH.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        runs = list(pool.map(solve, *zip(*tasks, strict=True))) if tasks else []
    if args.reference_only:
        return
    if args.runs_output:
        args.runs_output.write_text(json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    runs += earlier
    instances += sorted({(r.family, r.seed) for r in earlier} - set(instances))

    sense = {family: instance_model(family, HELD_OUT_SEEDS[0]).sense for family in args.families}
    best: dict[tuple[str, int], float | None] = {}
    for family, seed in instances:
        value: float | None = None
        # every recorded reference of this instance counts (a longer run recorded earlier is a better best known)
        instance_prefix = instance_key(family, seed) + "/"
        for key, reference in recorded.items():
            if key.startswith(instance_prefix):
                value = better(sense[family], value, reference["objective"])
        for run in runs:
            if (run.family, run.seed) == (family, seed):
                value = better(sense[family], value, run.objective)
        best[(family, seed)] = value

    print(f"# milp_learned: {platform.node()} ({platform.machine()}), started {started:%Y-%m-%d %H:%M} UTC")
    counted = len({seed for _, seed in instances})
    print(
        f"instances per family: {counted}; reference: {', '.join(args.reference_solvers)} "
        f"{args.reference_time:g} s, every other reference recorded for the instance, and every run\n"
    )
    print(
        "| family | limit (s) | solver | mean primal gap | mean primal integral (s) | with answer | wrong | "
        "worst overrun (s) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for family in args.families:
        for limit in args.time_limits:
            for solver in args.solvers:
                chosen = [r for r in runs if (r.family, r.solver, r.time_limit) == (family, solver, limit)]
                if all(r.status == "refused" for r in chosen):
                    print(f"| {family} | {limit:g} | {solver} | refused | | | | |")
                    continue
                gaps = [primal_gap(r.objective, best[(r.family, r.seed)]) for r in chosen]
                integrals = [primal_integral(r, best[(r.family, r.seed)]) for r in chosen]
                answered = sum(r.objective is not None for r in chosen)
                wrong = sum(r.verified is False for r in chosen)
                overrun = max(r.seconds - r.time_limit for r in chosen)
                print(
                    f"| {family} | {limit:g} | {solver} | {sum(gaps) / len(gaps):.4f} | "
                    f"{sum(integrals) / len(integrals):.3f} | {answered}/{len(chosen)} | {wrong} | {overrun:.2f} |"
                )
    if {"predict_and_search", "highs"} <= set(args.solvers):
        print_against_highs(runs, best, sense, args.families, args.time_limits)
    print(f"\nfinished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def print_against_highs(
    runs: list[Run],
    best: dict[tuple[str, int], float | None],
    sense: Mapping[str, str],
    families: list[str],
    limits: list[float],
) -> None:
    """The issue's two criteria per family and limit: predict_and_search's mean primal gap over HiGHS's
    (at most 0.40 at 10 s on set cover, auctions and independent set), and on how many instances it ends
    better, level or worse than HiGHS (no worse at 30 s)."""
    print("\n| family | limit (s) | instances | PS gap / HiGHS gap | PS better | level | PS worse |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for family in families:
        for limit in limits:
            objectives: dict[str, dict[int, float | None]] = {"predict_and_search": {}, "highs": {}}
            for run in runs:
                if (run.family, run.time_limit) == (family, limit) and run.solver in objectives:
                    objectives[run.solver][run.seed] = run.objective
            seeds = sorted(set(objectives["predict_and_search"]) & set(objectives["highs"]))
            if not seeds:
                continue
            gaps = {
                solver: sum(primal_gap(values[seed], best[(family, seed)]) for seed in seeds)
                for solver, values in objectives.items()
            }
            ratio = f"{gaps['predict_and_search'] / gaps['highs']:.2f}" if gaps["highs"] > 0 else "– (HiGHS gap 0)"
            counts = {"better": 0, "level": 0, "worse": 0}
            for seed in seeds:
                ours, theirs = objectives["predict_and_search"][seed], objectives["highs"][seed]
                if primal_gap(ours, theirs) == 0.0:
                    counts["level"] += 1
                elif better(sense[family], ours, theirs) == ours:
                    counts["better"] += 1
                else:
                    counts["worse"] += 1
            print(
                f"| {family} | {limit:g} | {len(seeds)} | {ratio} | {counts['better']} | {counts['level']} | "
                f"{counts['worse']} |"
            )


if __name__ == "__main__":
    main()
