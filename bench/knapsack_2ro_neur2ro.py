"""Benchmark of the learned ``neur2ro`` solver of knapsack_2ro.

Two sets, both bounded by a per-instance time limit:

* ``published``: the 504 instances of Arslan & Detienne (files; never used for training). Gap to the
  authors' branch-and-price best (positive = worse), share of instances strictly better than it, and
  time, per n and per correlation type, beside ``nominal`` (the loop's first certified selection),
  optionally ``exact`` at the same time budget, and Neur2RO's published numbers from the same CSV.
  ``--stride k`` runs every k-th instance of the list ordered so that each stratum is covered.
* ``fresh``: instances generated with :data:`FRESH_EVALUATION_SEEDS` (disjoint from training seeds);
  gap of neur2ro and nominal to the upper bound that ``exact`` proves within the same time limit.

Every objective is the exact worst case of the returned selection.

Examples (the runs recorded in docs/benchmarks/knapsack_2ro_neur2ro.md):
    .venv/bin/python bench/knapsack_2ro_neur2ro.py published --time-limit 5 --workers 2 --csv /tmp/n2ro_pub.csv
    .venv/bin/python bench/knapsack_2ro_neur2ro.py fresh --instances 100 --time-limit 5 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rkp"
#: A gap below −this (percent) counts as strictly better than branch-and-price.
BETTER_TOLERANCE_PERCENT = 1e-4


def solve_one(task: tuple[str, str, float, bool]) -> dict[str, Any]:
    """Run neur2ro (and optionally exact) on one instance: ("published", path) or ("fresh", seed)."""
    from solvers.base import NeverCancel, NullProgress
    from solvers.knapsack_2ro.exact import BranchAndPriceSolver
    from solvers.knapsack_2ro.learned.data import recipe
    from solvers.knapsack_2ro.learned.options import Neur2roOptions
    from solvers.knapsack_2ro.learned.solver import Neur2roSolver
    from solvers.knapsack_2ro.options import ExactOptions
    from solvers.knapsack_2ro.schema import parse

    source, key, time_limit, with_exact = task
    if source == "published":
        instance = parse({"format": "ad", "text": Path(key).read_text()})
        name = Path(key).name
        n, correlation = int(name.split("_")[2][1:]), name.split("_")[1]
    else:
        spec = recipe(int(key))
        instance = parse(spec.raw())
        name, n, correlation = f"seed{key}", spec.n, spec.correlation
    progress = NullProgress()
    started = time.perf_counter()
    result = Neur2roSolver().solve(instance, Neur2roOptions(time_limit_s=time_limit), progress, NeverCancel())
    row: dict[str, Any] = {
        "instance": name,
        "n": n,
        "correlation": correlation,
        "neur2ro": result.objective,
        "neur2ro_s": time.perf_counter() - started,
        "nominal": progress.incumbents[0],
        "main_problems": result.stats.get("main_problems"),
        "evaluations": result.stats.get("evaluations"),
        "termination": result.termination.value,
    }
    if with_exact:
        started = time.perf_counter()
        exact = BranchAndPriceSolver().solve(
            instance, ExactOptions(time_limit_s=time_limit, rel_gap=0.0), NullProgress(), NeverCancel()
        )
        row.update(exact=exact.objective, exact_bound=exact.bound, exact_s=time.perf_counter() - started)
    return row


def gap(reference: float, value: float) -> float:
    """How much worse than the reference value is, in percent (negative: better)."""
    return 100.0 * (reference - value) / abs(reference)


def mean(values: Iterable[float]) -> float:
    """Mean (nan when empty)."""
    items = list(values)
    return statistics.fmean(items) if items else math.nan


def median(values: Iterable[float]) -> float:
    """Median (nan when empty)."""
    items = list(values)
    return statistics.median(items) if items else math.nan


def grouped_table(
    rows: list[dict[str, Any]], key: str, columns: list[tuple[str, Callable[[list[dict[str, Any]]], str]]]
) -> str:
    """A markdown table with one line per value of ``key`` and a line for all rows."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    lines = [
        "| " + " | ".join([key, "#"] + [title for title, _ in columns]) + " |",
        "|" + "---|" * (len(columns) + 2),
    ]
    for group_key in [*sorted(groups), "all"]:
        group = rows if group_key == "all" else groups[group_key]
        lines.append("| " + " | ".join([str(group_key), str(len(group))] + [cell(group) for _, cell in columns]) + " |")
    return "\n".join(lines) + "\n"


def published_columns(with_exact: bool) -> list[tuple[str, Callable[[list[dict[str, Any]]], str]]]:
    """Columns of the published-instance tables."""

    def gaps(column: str) -> Callable[[list[dict[str, Any]]], list[float]]:
        return lambda group: [gap(r["bp_best"], r[column]) for r in group]

    def better(column: str) -> Callable[[list[dict[str, Any]]], str]:
        return lambda group: f"{100 * mean(g < -BETTER_TOLERANCE_PERCENT for g in gaps(column)(group)):.1f}"

    columns: list[tuple[str, Callable[[list[dict[str, Any]]], str]]] = []
    names = [("neur2ro", "neur2ro"), ("nominal", "nominal"), ("Neur2RO (published)", "neur2ro_published")]
    if with_exact:
        names.insert(2, ("exact (same limit)", "exact"))
    for title, column in names:
        columns.append((f"{title} mean gap %", lambda g, c=column: f"{mean(gaps(c)(g)):.3f}"))
        columns.append((f"{title} median gap %", lambda g, c=column: f"{median(gaps(c)(g)):.3f}"))
        if column != "nominal":
            columns.append((f"{title} % better than B&P", better(column)))
    columns.append(("neur2ro mean s", lambda g: f"{mean(r['neur2ro_s'] for r in g):.1f}"))
    columns.append(("Neur2RO (published) mean s", lambda g: f"{mean(r['neur2ro_published_s'] for r in g):.1f}"))
    return columns


def fresh_columns() -> list[tuple[str, Callable[[list[dict[str, Any]]], str]]]:
    """Columns of the fresh-instance table: gaps to exact's proven bound."""

    def to_bound(column: str) -> Callable[[list[dict[str, Any]]], list[float]]:
        return lambda group: [gap(r["exact_bound"], r[column]) for r in group]

    return [
        ("neur2ro mean gap to bound %", lambda g: f"{mean(to_bound('neur2ro')(g)):.3f}"),
        ("neur2ro median gap to bound %", lambda g: f"{median(to_bound('neur2ro')(g)):.3f}"),
        ("nominal mean gap to bound %", lambda g: f"{mean(to_bound('nominal')(g)):.3f}"),
        ("exact mean gap to bound %", lambda g: f"{mean(to_bound('exact')(g)):.3f}"),
        ("neur2ro ≥ exact %", lambda g: f"{100 * mean(r['neur2ro'] >= r['exact'] - 1e-9 for r in g):.1f}"),
        ("neur2ro mean s", lambda g: f"{mean(r['neur2ro_s'] for r in g):.1f}"),
        ("exact mean s", lambda g: f"{mean(r['exact_s'] for r in g):.1f}"),
    ]


def stratified_order(paths: list[Path]) -> list[Path]:
    """Instances interleaved over (correlation, n) so that any prefix or stride covers every stratum."""
    strata: dict[str, list[Path]] = {}
    for path in sorted(paths):
        strata.setdefault("_".join(path.name.split("_")[1:3]), []).append(path)
    ordered: list[Path] = []
    for position in range(max(len(group) for group in strata.values())):
        ordered += [group[position] for _, group in sorted(strata.items()) if position < len(group)]
    return ordered


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", choices=["published", "fresh"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with instances/ and the CSV")
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per instance and solver")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--stride", type=int, default=1, help="published: every k-th instance (stratified)")
    parser.add_argument("--instances", type=int, default=100, help="fresh: how many fresh seeds")
    parser.add_argument("--with-exact", action="store_true", help="published: also run exact at the same limit")
    parser.add_argument("--csv", type=Path, default=None, help="write per-instance rows here")
    args = parser.parse_args(argv)

    from solvers.knapsack_2ro.learned.data import FRESH_EVALUATION_SEEDS

    if args.set == "published":
        with (args.data / "reference_results.csv").open() as handle:
            reference = {row["instance"]: row for row in csv.DictReader(handle)}
        paths = stratified_order(list((args.data / "instances").glob("RKP_*")))[:: args.stride]
        tasks = [("published", str(path), args.time_limit, args.with_exact) for path in paths]
    else:
        count = min(args.instances, len(FRESH_EVALUATION_SEEDS))
        tasks = [("fresh", str(seed), args.time_limit, True) for seed in FRESH_EVALUATION_SEEDS[:count]]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=20) as pool:
        for done, row in enumerate(pool.imap_unordered(solve_one, tasks), start=1):
            rows.append(row)
            print(
                f"[{done}/{len(tasks)}] {row['instance']} {row['neur2ro']:.4f} ({row['neur2ro_s']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - started
    if args.set == "published":
        for row in rows:
            ref = reference[row["instance"]]
            row.update(
                bp_best=float(ref["bp_best_profit"]),
                neur2ro_published=float(ref["neur2ro_profit"]),
                neur2ro_published_s=float(ref["neur2ro_time_s"]),
            )
    rows.sort(key=lambda r: r["instance"])
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    print(
        f"{args.set}: {len(rows)} instances, time limit {args.time_limit:g} s per instance and solver, "
        f"{args.workers} workers, wall time {wall:.0f} s.\n"
    )
    columns = published_columns(args.with_exact) if args.set == "published" else fresh_columns()
    print("By size n:\n")
    print(grouped_table(rows, "n", columns))
    print("By correlation type:\n")
    print(grouped_table(rows, "correlation", columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
