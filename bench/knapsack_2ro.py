"""Benchmark of knapsack_2ro on the published instances of Arslan & Detienne (2022).

Runs ``exact`` (time limit per instance) and ``nominal`` on each instance, in parallel over processes,
and prints markdown tables per n and per correlation type: gap to the authors' branch-and-price best
(positive = worse than branch-and-price), proven-optimal counts and mean times, beside the published
Neur2RO numbers from the same CSV. Every objective is the exact worst case of the returned selection.

``--stratified 56`` runs the first 56 instances of the order that interleaves the 28 (correlation, n) strata
(two per stratum, so 8 per n): the documented sample for long runs. With ``--csv``, every finished
instance is also appended to ``<csv>.partial.jsonl``, and ``--resume`` goes on from there, so a run longer
than one sitting can be done in several.

Examples (the runs recorded in docs/benchmarks/knapsack_2ro.md):
    .venv/bin/python bench/knapsack_2ro.py --time-limit 8 --workers 2 --csv /tmp/knapsack_2ro.csv
    .venv/bin/python bench/knapsack_2ro.py --stratified 56 --time-limit 600 --workers 2 \
        --csv docs/benchmarks/data/knapsack_2ro_exact_600s_stratified56.csv --resume
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from knapsack_2ro_neur2ro import stratified_order

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rkp"


@dataclass(frozen=True)
class Task:
    """One instance to run."""

    path: str
    time_limit_s: float
    rel_gap: float


@dataclass
class Row:
    """Results of one instance, ours and the published ones."""

    instance: str
    n: int
    correlation: str
    exact_objective: float
    exact_bound: float
    exact_termination: str
    exact_time_s: float
    exact_nodes: int
    nominal_objective: float
    nominal_time_s: float
    bp_best: float
    bp_proven: bool
    bp_time_s: float | None
    neur2ro_objective: float
    neur2ro_time_s: float


def silence_stdout() -> None:
    """Send a worker's C-level stdout (HiGHS prints a banner per model) to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)


def run_one(task: Task) -> dict[str, Any]:
    """Solve one instance with both solvers (in a worker process)."""
    from solvers.base import NeverCancel, NullProgress
    from solvers.knapsack_2ro.exact import BranchAndPriceSolver
    from solvers.knapsack_2ro.nominal import NominalSolver
    from solvers.knapsack_2ro.options import ExactOptions, NominalOptions
    from solvers.knapsack_2ro.schema import parse

    instance = parse({"format": "ad", "text": Path(task.path).read_text()})
    started = time.perf_counter()
    try:
        exact = BranchAndPriceSolver().solve(
            instance,
            ExactOptions(time_limit_s=task.time_limit_s, rel_gap=task.rel_gap),
            NullProgress(),
            NeverCancel(),
        )
    except Exception as exc:  # report and go on with the other instances
        return {
            "instance": Path(task.path).name,
            "error": repr(exc),
            "exact_termination": "error",
            "exact_objective": float("nan"),
            "exact_time_s": time.perf_counter() - started,
        }
    exact_time = time.perf_counter() - started
    started = time.perf_counter()
    nominal = NominalSolver().solve(instance, NominalOptions(), NullProgress(), NeverCancel())
    nominal_time = time.perf_counter() - started
    return {
        "instance": Path(task.path).name,
        "exact_objective": exact.objective,
        "exact_bound": exact.bound,
        "exact_termination": exact.termination.value,
        "exact_time_s": exact_time,
        "exact_nodes": exact.stats.get("nodes", 0),
        "nominal_objective": nominal.objective,
        "nominal_time_s": nominal_time,
    }


def load_partial(path: Path) -> list[dict[str, Any]]:
    """Results already written by an interrupted run (one JSON object per line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def gap_percent(reference: float, value: float) -> float:
    """How much worse than the reference value is, in percent (negative: better)."""
    return 100.0 * (reference - value) / abs(reference)


def six_digit_half_unit(value: float) -> float:
    """Half a unit in the 6th significant digit: the rounding of the reference CSV."""
    if value == 0:
        return 0.0
    return 0.5 * 10 ** (math.floor(math.log10(abs(value))) - 5)


def matches_reference(row: Row, rel_tol: float) -> bool:
    """Our proven optimum equals branch-and-price's within rel_tol (or the CSV's 6-digit rounding)."""
    tolerance = max(rel_tol * abs(row.bp_best), six_digit_half_unit(row.bp_best))
    return abs(row.exact_objective - row.bp_best) <= tolerance


def mean(values: Iterable[float]) -> float:
    """Mean of values (nan when empty)."""
    items = list(values)
    return statistics.fmean(items) if items else math.nan


def median(values: Iterable[float]) -> float:
    """Median of values (nan when empty)."""
    items = list(values)
    return statistics.median(items) if items else math.nan


def table(rows: list[Row], key_name: str, key: str) -> str:
    """A markdown table grouped by ``key`` (an attribute of Row)."""
    header = (
        f"| {key_name} | # | exact mean gap % | exact median gap % | exact proven | exact mean s "
        "| nominal mean gap % | nominal median gap % | nominal mean s "
        "| Neur2RO mean gap % | Neur2RO median gap % | Neur2RO mean s | B&P proven |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    groups: dict[object, list[Row]] = {}
    for row in rows:
        groups.setdefault(getattr(row, key), []).append(row)
    lines = []
    for group_key in [*sorted(groups), "all"]:
        group = rows if group_key == "all" else groups[group_key]
        lines.append(
            f"| {group_key} | {len(group)} "
            f"| {mean(gap_percent(r.bp_best, r.exact_objective) for r in group):.3f} "
            f"| {median(gap_percent(r.bp_best, r.exact_objective) for r in group):.3f} "
            f"| {sum(r.exact_termination == 'optimal' for r in group)} "
            f"| {mean(r.exact_time_s for r in group):.1f} "
            f"| {mean(gap_percent(r.bp_best, r.nominal_objective) for r in group):.3f} "
            f"| {median(gap_percent(r.bp_best, r.nominal_objective) for r in group):.3f} "
            f"| {mean(r.nominal_time_s for r in group):.2f} "
            f"| {mean(gap_percent(r.bp_best, r.neur2ro_objective) for r in group):.3f} "
            f"| {median(gap_percent(r.bp_best, r.neur2ro_objective) for r in group):.3f} "
            f"| {mean(r.neur2ro_time_s for r in group):.1f} "
            f"| {sum(r.bp_proven for r in group)} |"
        )
    return header + "\n".join(lines) + "\n"


def read_reference(path: Path) -> dict[str, dict[str, str]]:
    """reference_results.csv by instance name."""
    with path.open() as handle:
        return {row["instance"]: row for row in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with instances/ and the CSV")
    parser.add_argument("--time-limit", type=float, default=8.0, help="seconds per instance for exact")
    parser.add_argument("--rel-gap", type=float, default=0.0, help="rel_gap option of exact")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--n", type=int, nargs="*", help="only these sizes (e.g. --n 20 30)")
    parser.add_argument("--correlation", nargs="*", help="only these types (UN WC ASC SC)")
    parser.add_argument("--max-instances", type=int, default=None, help="stop after this many")
    parser.add_argument(
        "--stratified", type=int, default=None, metavar="K", help="only the first K in stratified order (56: 8 per n)"
    )
    parser.add_argument("--csv", type=Path, default=None, help="write per-instance results here")
    parser.add_argument(
        "--resume", action="store_true", help="skip instances already in the CSV's .partial.jsonl from a former run"
    )
    parser.add_argument(
        "--check-reference",
        type=float,
        default=None,
        metavar="REL_TOL",
        help="also list instances where a proven optimum differs from a proven B&P optimum by more than this",
    )
    args = parser.parse_args(argv)

    reference = read_reference(args.data / "reference_results.csv")
    paths = sorted((args.data / "instances").glob("RKP_*"))
    if args.stratified is not None:
        paths = stratified_order(paths)[: args.stratified]
    selected = []
    for path in paths:
        correlation, size = path.name.split("_")[1], int(path.name.split("_")[2][1:])
        if args.n and size not in args.n:
            continue
        if args.correlation and correlation not in args.correlation:
            continue
        selected.append(path)
    selected = selected[: args.max_instances]
    partial = args.csv.with_suffix(".partial.jsonl") if args.csv else None
    if partial and not args.resume:
        partial.unlink(missing_ok=True)
    results = load_partial(partial) if partial else []
    finished = {str(result["instance"]) for result in results}
    tasks = [Task(str(path), args.time_limit, args.rel_gap) for path in selected if path.name not in finished]
    started = time.perf_counter()
    print(
        f"# {len(tasks)} instances to run ({len(finished)} already done), exact time limit "
        f"{args.time_limit:g} s, rel_gap {args.rel_gap:g}, {args.workers} workers",
        file=sys.stderr,
    )
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=silence_stdout) as pool:
        for done, result in enumerate(pool.imap_unordered(run_one, tasks), start=1):
            results.append(result)
            if partial:
                with partial.open("a") as handle:
                    handle.write(json.dumps(result) + "\n")
            print(
                f"[{done}/{len(tasks)}] {result['instance']} {result['exact_termination']} "
                f"{result['exact_objective']:.4f} ({result['exact_time_s']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    failed = [result for result in results if result.get("error")]
    results = [result for result in results if not result.get("error")]
    rows = []
    for result in sorted(results, key=lambda r: str(r["instance"])):
        name = str(result["instance"])
        ref = reference[name]
        rows.append(
            Row(
                instance=name,
                n=int(name.split("_")[2][1:]),
                correlation=name.split("_")[1],
                exact_objective=float(result["exact_objective"]),
                exact_bound=float(result["exact_bound"]),
                exact_termination=str(result["exact_termination"]),
                exact_time_s=float(result["exact_time_s"]),
                exact_nodes=int(result["exact_nodes"]),
                nominal_objective=float(result["nominal_objective"]),
                nominal_time_s=float(result["nominal_time_s"]),
                bp_best=float(ref["bp_best_profit"]),
                bp_proven=ref["bp_proven_optimal"] == "1",
                bp_time_s=None if ref["bp_time_s"] == "TIME_LIMIT" else float(ref["bp_time_s"]),
                neur2ro_objective=float(ref["neur2ro_profit"]),
                neur2ro_time_s=float(ref["neur2ro_time_s"]),
            )
        )
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(row) for row in rows)
    print(
        f"Exact time limit {args.time_limit:g} s per instance, rel_gap {args.rel_gap:g}, "
        f"{args.workers} workers; wall time {time.perf_counter() - started:.0f} s. "
        "Gap = (B&P best − ours) / B&P best.\n"
    )
    print("By size n:\n")
    print(table(rows, "n", "n"))
    print("By correlation type:\n")
    print(table(rows, "type", "correlation"))
    for result in failed:
        print(f"- ERROR {result['instance']}: {result['error']}")
    bp_proven = [r for r in rows if r.bp_proven]
    not_proven = [r.instance for r in bp_proven if r.exact_termination != "optimal"]
    better = sum(gap_percent(r.bp_best, r.exact_objective) < -1e-4 for r in rows)
    print(
        f"B&P proved {len(bp_proven)} of these {len(rows)}; exact proved {len(bp_proven) - len(not_proven)} of those "
        f"and {sum(r.exact_termination == 'optimal' for r in rows)} in all; exact strictly better than B&P's best "
        f"on {better}."
    )
    for name in not_proven:
        print(f"- proved by B&P, not by exact: {name}")
    if args.check_reference is not None:
        both = [r for r in rows if r.bp_proven and r.exact_termination == "optimal"]
        wrong = [r for r in both if not matches_reference(r, args.check_reference)]
        beyond = [r for r in both if abs(r.exact_objective - r.bp_best) > args.check_reference * abs(r.bp_best)]
        largest = max((abs(r.exact_objective - r.bp_best) for r in both), default=0.0)
        tol = args.check_reference
        print(
            f"Proven optimal by both: {len(both)}; equal to B&P's optimum within {tol:g} relative "
            f"or the CSV's 6-significant-digit rounding: {len(both) - len(wrong)}; "
            f"differing by more than {tol:g} relative: {len(beyond)} (within the rounding unless "
            f"listed below); largest |difference| {largest:.4g}"
        )
        for r in wrong:
            print(f"- MISMATCH {r.instance}: ours {r.exact_objective:.6f}, B&P {r.bp_best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
