"""Benchmark of the learned ``neur2ro`` solver of knapsack_2ro.

Three sets, each bounded by a per-instance time limit:

* ``published``: the 504 instances of Arslan & Detienne (files; never used for training or tuning). Gap
  to the best of the authors' branch-and-price (3 h) and ``exact`` run for ``--reference-time-limit``
  seconds (10 by default; positive = worse), how many are strictly better than branch-and-price's
  published value, and time, per n and per correlation type, beside ``nominal`` (the loop's first
  certified selection), the loop's own best (before the search phase), optionally ``exact`` at the same
  time budget, and Neur2RO's published numbers from the same CSV. ``--stride k`` runs every k-th
  instance of the list ordered so that each stratum is covered, ``--first k`` the first k of those.
* ``fresh``: 100 instances drawn by the published recipe with real-valued data, seeds
  :data:`FRESH_EVALUATION_SEEDS` (disjoint from training and development), the held-out set.
* ``development``: the same recipe with :data:`DEVELOPMENT_SEEDS`, on which options are chosen.

On the generated sets the gap is to ``exact`` run for ``--reference-time-limit`` seconds (60 by
default). ``exact``'s reference runs are computed once per set and time limit and kept in
``bench/data/knapsack_2ro_<set>_reference.csv`` (on the 504 at 10 s: about 32 min on 2 cores).
Every objective is the exact worst case of the returned selection and is checked by the kind's check.
``--api`` runs neur2ro as jobs of a local deployment (API process + worker, fresh database): times are
then the jobs' (started to finished: solve, the service's check, storing), as a client sees them.

``compare A.csv B.csv …`` prints each run's mean gap to the best value any of them (or its reference)
reached (model selection on the development set).

Examples (the runs recorded in docs/benchmarks/knapsack_2ro_neur2ro.md):
    .venv/bin/python bench/knapsack_2ro_neur2ro.py published --api --time-limit 5 --workers 2 --csv /tmp/pub.csv
    .venv/bin/python bench/knapsack_2ro_neur2ro.py fresh --api --time-limit 5 --workers 2 --csv /tmp/fresh.csv
    .venv/bin/python bench/knapsack_2ro_neur2ro.py development --instances 40 --time-limit 5 \
        --reference-time-limit 10 --learned-share 0.2 --csv /tmp/share_0.2.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rkp"
#: A gap below −this (percent) counts as strictly better than the reference.
BETTER_TOLERANCE_PERCENT = 1e-4
#: Jobs that did not succeed through the API (name and job), printed after the tables.
FAILED_JOBS: list[str] = []
#: Where exact's reference runs of each set are kept (computed once, then read).
REFERENCE_FILES = {
    name: Path(__file__).resolve().parent / "data" / f"knapsack_2ro_{name}_reference.csv"
    for name in ("published", "fresh", "development")
}
#: exact's reference run, seconds: beside B&P's 3-hour result on the published set, alone on generated ones.
DEFAULT_REFERENCE_TIME_LIMIT = {"published": 10.0, "fresh": 60.0, "development": 60.0}


@dataclass(frozen=True)
class Task:
    """One instance to run: a published file ("published", path) or a generated seed ("fresh"/"development")."""

    source: str
    key: str
    time_limit: float
    with_exact: bool = False
    learned_share: float | None = None
    reference_only: bool = False


def raw_instance(task: Task) -> tuple[dict[str, Any], str, int, str]:
    """The instance as a client sends it, its name, n and correlation type."""
    from solvers.knapsack_2ro.learned.data import recipe

    if task.source == "published":
        name = Path(task.key).name
        return (
            {"format": "ad", "text": Path(task.key).read_text()},
            name,
            int(name.split("_")[2][1:]),
            name.split("_")[1],
        )
    spec = recipe(int(task.key))  # generated sets use the recipe's real-valued numbers
    return spec.raw(integral=False), task.key, spec.n, spec.correlation


def load(task: Task) -> tuple[Any, str, int, str]:
    """The parsed instance, its name, n and correlation type."""
    from solvers.knapsack_2ro.schema import parse

    raw, name, n, correlation = raw_instance(task)
    return parse(raw), name, n, correlation


def run_through_api(tasks: list[Task], workers: int) -> list[dict[str, Any]]:
    """Submit every task as a neur2ro job to a local deployment (1 API process, a worker with ``workers``
    slots), as a client would; each row's time is the job's, from started_at to finished_at (the worker's
    solve, the service's own check and storing the result)."""
    from datetime import datetime

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from service import Deployment

    deployment = Deployment(api_processes=1, clients=1)
    rows: list[dict[str, Any]] = []
    try:
        deployment.start_workers(workers)
        headers = {"Authorization": f"Bearer {deployment.keys[0]}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{deployment.port}", headers=headers, timeout=60) as client:
            jobs: dict[str, tuple[Task, str, int, str]] = {}
            for task in tasks:
                raw, name, n, correlation = raw_instance(task)
                options: dict[str, Any] = {"time_limit_s": task.time_limit}
                if task.learned_share is not None:
                    options["learned_share"] = task.learned_share
                body = {"kind": "knapsack_2ro", "instance": raw, "solver": "neur2ro", "options": options}
                answer = client.post("/v1/jobs", json=body)
                answer.raise_for_status()
                jobs[answer.json()["id"]] = (task, name, n, correlation)
            pending = set(jobs)
            while pending:
                time.sleep(1.0)
                # which jobs ended: one query to the bench's database (polling each job through the API
                # would run into the tenant's request rate limit)
                ended = {
                    job_id
                    for (job_id,) in deployment.sql(
                        "SELECT id::text FROM jobs WHERE finished_at IS NOT NULL AND id = ANY(%s::uuid[])",
                        [sorted(pending)],
                    )
                }
                for job_id in sorted(ended):
                    pending.discard(job_id)
                    job = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
                    task, name, n, correlation = jobs[job_id]
                    if job["status"] != "succeeded":
                        FAILED_JOBS.append(f"{name}: {json.dumps(job)}")
                        print(f"FAILED {FAILED_JOBS[-1]}", file=sys.stderr, flush=True)
                        continue
                    result = client.get(f"/v1/jobs/{job_id}/result").raise_for_status().json()
                    if not result["verification"]["feasible"]:
                        raise RuntimeError(f"{name}: the service's check refused the answer: {result['verification']}")
                    events = client.get(f"/v1/jobs/{job_id}/events").raise_for_status().json()["items"]
                    first = next(e["data"]["objective"] for e in events if e["type"] == "incumbent")
                    started = datetime.fromisoformat(job["started_at"]).timestamp()
                    job_s = datetime.fromisoformat(job["finished_at"]).timestamp() - started
                    rows.append(
                        {
                            "instance": name,
                            "n": n,
                            "correlation": correlation,
                            "neur2ro": result["verification"]["objective"],
                            "neur2ro_s": job_s,
                            "neur2ro_overrun_s": job_s - task.time_limit,
                            "neur2ro_proven": result["status"] == "optimal",
                            "nominal": first,
                            "learned": result["stats"].get("learned_objective"),
                            "termination": result["termination"],
                        }
                    )
                    print(
                        f"[{len(rows)}/{len(jobs)}] {name} {rows[-1]['neur2ro']:.4f} ({job_s:.1f} s)", file=sys.stderr
                    )
    finally:
        deployment.close()
    return rows


def solve_one(task: Task) -> dict[str, Any]:
    """Run neur2ro (and optionally exact) on one instance, or only exact for a reference value."""
    from solvers.base import NeverCancel, NullProgress
    from solvers.knapsack_2ro import KIND
    from solvers.knapsack_2ro.exact import BranchAndPriceSolver
    from solvers.knapsack_2ro.learned.options import Neur2roOptions
    from solvers.knapsack_2ro.learned.solver import Neur2roSolver
    from solvers.knapsack_2ro.options import ExactOptions

    instance, name, n, correlation = load(task)
    row: dict[str, Any] = {"instance": name, "n": n, "correlation": correlation}
    if task.with_exact or task.reference_only:
        started = time.perf_counter()
        exact = BranchAndPriceSolver().solve(
            instance, ExactOptions(time_limit_s=task.time_limit, rel_gap=0.0), NullProgress(), NeverCancel()
        )
        row.update(exact=exact.objective, exact_bound=exact.bound, exact_s=time.perf_counter() - started)
        if task.reference_only:
            row["exact_proven"] = exact.status.value == "optimal"
            return row
    progress = NullProgress()
    options = Neur2roOptions(time_limit_s=task.time_limit)
    if task.learned_share is not None:
        options = options.model_copy(update={"learned_share": task.learned_share})
    started = time.perf_counter()
    result = Neur2roSolver().solve(instance, options, progress, NeverCancel())
    solved_s = time.perf_counter() - started
    verdict = KIND.check(instance, result.solution or {})
    if not verdict.feasible or abs((verdict.objective or 0.0) - (result.objective or 0.0)) > 1e-6 * max(
        1.0, abs(result.objective or 0.0)
    ):
        raise RuntimeError(f"{name}: neur2ro's answer failed the check: {verdict.message}")
    row.update(
        neur2ro=result.objective,
        neur2ro_s=solved_s,
        neur2ro_overrun_s=time.perf_counter() - started - task.time_limit,
        neur2ro_proven=result.status.value == "optimal",
        nominal=progress.incumbents[0],
        learned=result.stats.get("learned_objective"),
        main_problems=result.stats.get("main_problems"),
        evaluations=result.stats.get("evaluations"),
        learned_s=result.stats.get("learned_time_s"),
        termination=result.termination.value,
    )
    return row


def gap(reference: float, value: float) -> float:
    """How much worse than the reference value is, in percent (negative: better)."""
    return 100.0 * (reference - value) / max(abs(reference), 1.0)


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


def columns_for(
    better_title: str, with_exact: bool, published: bool, through_api: bool
) -> list[tuple[str, Callable[[list[dict[str, Any]]], str]]]:
    """Table columns; every gap is to ``row["reference"]`` (the best of B&P and exact's reference run on the
    published set, exact's long run on generated ones); "better than" counts are against B&P's published value
    on the published set, against the reference elsewhere."""

    def gaps(column: str, reference: str = "reference") -> Callable[[list[dict[str, Any]]], list[float]]:
        return lambda group: [gap(r[reference], r[column]) for r in group]

    def better(column: str) -> Callable[[list[dict[str, Any]]], str]:
        against = "bp_best" if published else "reference"
        return lambda group: f"{sum(g < -BETTER_TOLERANCE_PERCENT for g in gaps(column, against)(group))}"

    def mean_gap(column: str) -> Callable[[list[dict[str, Any]]], str]:
        return lambda group: f"{mean(gaps(column)(group)):.3f}"

    def median_gap(column: str) -> Callable[[list[dict[str, Any]]], str]:
        return lambda group: f"{median(gaps(column)(group)):.3f}"

    columns: list[tuple[str, Callable[[list[dict[str, Any]]], str]]] = []
    names = [("neur2ro", "neur2ro"), ("its learned phase", "learned"), ("nominal", "nominal")]
    if with_exact:
        names.append(("exact (same limit)", "exact"))
    if published:
        names.append(("Neur2RO (published)", "neur2ro_published"))
    for title, column in names:
        columns.append((f"{title} mean gap %", mean_gap(column)))
        if column in ("neur2ro", "exact", "neur2ro_published"):
            columns.append((f"{title} median gap %", median_gap(column)))
            columns.append((f"{title} better than {better_title}", better(column)))
        if published and column == "neur2ro":
            columns.append(("neur2ro mean gap % to B&P", lambda g: f"{mean(gaps('neur2ro', 'bp_best')(g)):.3f}"))
    columns.append(("neur2ro proven optimal", lambda g: str(sum(bool(r["neur2ro_proven"]) for r in g))))
    columns.append(("neur2ro mean s", lambda g: f"{mean(r['neur2ro_s'] for r in g):.2f}"))
    columns.append(
        (
            "worst overrun s (" + ("job" if through_api else "solve + check") + " − limit)",
            lambda g: f"{max(r['neur2ro_overrun_s'] for r in g):+.2f}",
        )
    )
    if published:
        columns.append(("Neur2RO (published) mean s", lambda g: f"{mean(r['neur2ro_published_s'] for r in g):.1f}"))
    return columns


def run_pool(tasks: list[Task], workers: int) -> list[dict[str, Any]]:
    """Run tasks in ``workers`` processes, reporting each as it ends."""
    rows: list[dict[str, Any]] = []
    if not tasks:
        return rows
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=20) as pool:
        for done, row in enumerate(pool.imap_unordered(solve_one, tasks), start=1):
            rows.append(row)
            value, seconds = (
                (row["exact"], row["exact_s"]) if "neur2ro" not in row else (row["neur2ro"], row["neur2ro_s"])
            )
            print(f"[{done}/{len(tasks)}] {row['instance']} {value:.4f} ({seconds:.1f} s)", file=sys.stderr, flush=True)
    return rows


def instance_name(task_key: str) -> str:
    """The name an instance has in the tables and CSVs: the file name (published) or the seed."""
    return Path(task_key).name


def exact_references(
    set_name: str, keys: list[str], time_limit: float, workers: int, path: Path
) -> dict[str, dict[str, Any]]:
    """``exact``'s runs of ``time_limit`` on the instances, read from ``path`` and completed there when missing."""
    fields = [
        "instance",
        "n",
        "correlation",
        "reference_time_limit_s",
        "exact",
        "exact_bound",
        "exact_s",
        "exact_proven",
    ]
    known: dict[str, dict[str, Any]] = {}
    if path.exists():
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if float(row["reference_time_limit_s"]) == time_limit:
                    known[row["instance"]] = row
    missing = [Task(set_name, key, time_limit, reference_only=True) for key in keys if instance_name(key) not in known]
    if missing:
        print(f"exact reference runs of {time_limit:g} s on {len(missing)} instances", file=sys.stderr)
        new_rows = run_pool(missing, workers)
        write_header = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            if write_header:
                writer.writeheader()
            for row in sorted(new_rows, key=lambda r: r["instance"]):  # seeds all have 8 digits
                row["reference_time_limit_s"] = time_limit
                writer.writerow({key: row[key] for key in fields})
                known[row["instance"]] = row
    return known


def stratified_order(paths: list[Path]) -> list[Path]:
    """Instances interleaved over (correlation, n) so that any prefix or stride covers every stratum."""
    strata: dict[str, list[Path]] = {}
    for path in sorted(paths):
        strata.setdefault("_".join(path.name.split("_")[1:3]), []).append(path)
    ordered: list[Path] = []
    for position in range(max(len(group) for group in strata.values())):
        ordered += [group[position] for _, group in sorted(strata.items()) if position < len(group)]
    return ordered


def compare(paths: list[Path]) -> int:
    """Print, per per-instance CSV of this script, the mean gap to the best any of them (or its reference) found."""
    runs = {}
    for path in paths:
        with path.open() as handle:
            runs[path.name] = {row["instance"]: row for row in csv.DictReader(handle)}
    instances = sorted(set.intersection(*(set(rows) for rows in runs.values())))
    best = {
        name: max(
            max(float(rows[name]["neur2ro"]), float(rows[name]["reference"]), float(rows[name].get("exact") or 0.0))
            for rows in runs.values()
        )
        for name in instances
    }
    print(f"{len(instances)} instances in every file; gap to the best value any run or reference reached there\n")
    print("| run | neur2ro mean gap % | median gap % | its learned phase mean gap % | exact (same limit) mean gap % |")
    print("|---|---|---|---|---|")
    for run, rows in runs.items():

        def gaps(column: str, rows: dict[str, dict[str, str]] = rows) -> list[float]:
            return [gap(best[name], float(rows[name][column])) for name in instances if rows[name].get(column)]

        exact = f"{mean(gaps('exact')):.3f}" if gaps("exact") else "—"
        print(
            f"| {run} | {mean(gaps('neur2ro')):.3f} | {median(gaps('neur2ro')):.3f} | "
            f"{mean(gaps('learned')):.3f} | {exact} |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print markdown tables."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["compare"]:
        return compare([Path(arg) for arg in argv[1:]])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", choices=["published", "fresh", "development"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with instances/ and the CSV")
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per instance and solver")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--stride", type=int, default=1, help="published: every k-th instance (stratified)")
    parser.add_argument("--first", type=int, default=None, help="published: only the first this many (after --stride)")
    parser.add_argument("--instances", type=int, default=100, help="fresh, development: how many seeds")
    parser.add_argument("--with-exact", action="store_true", help="also run exact at the same limit")
    parser.add_argument("--learned-share", type=float, default=None, help="neur2ro's option (default: its own)")
    parser.add_argument(
        "--reference-time-limit",
        type=float,
        default=None,
        help="exact's reference run, s (published: 10, beside B&P's; fresh, development: 60)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="write per-instance rows here")
    parser.add_argument(
        "--api", action="store_true", help="run neur2ro as jobs of a local deployment (needs PostgreSQL and Redis)"
    )
    args = parser.parse_args(argv)
    if args.api and args.with_exact:
        parser.error("--with-exact runs in process only")

    from solvers.knapsack_2ro.learned.data import DEVELOPMENT_SEEDS, FRESH_EVALUATION_SEEDS

    reference_time_limit = args.reference_time_limit or DEFAULT_REFERENCE_TIME_LIMIT[args.set]
    if args.set == "published":
        with (args.data / "reference_results.csv").open() as handle:
            published = {row["instance"]: row for row in csv.DictReader(handle)}
        paths = stratified_order(list((args.data / "instances").glob("RKP_*")))[:: args.stride][: args.first]
        keys = [str(path) for path in paths]
        reference_title = f"best of B&P and exact {reference_time_limit:g} s"
    else:
        seeds = list((FRESH_EVALUATION_SEEDS if args.set == "fresh" else DEVELOPMENT_SEEDS)[: args.instances])
        keys = [str(seed) for seed in seeds]
        reference_title = f"exact {reference_time_limit:g} s"
    references = exact_references(args.set, keys, reference_time_limit, args.workers, REFERENCE_FILES[args.set])
    started = time.perf_counter()  # the wall time reported is the run's, not the reference runs'
    tasks = [Task(args.set, key, args.time_limit, args.with_exact, args.learned_share) for key in keys]
    rows = run_through_api(tasks, args.workers) if args.api else run_pool(tasks, args.workers)
    wall = time.perf_counter() - started
    for row in rows:
        exact_reference = references[row["instance"]]
        row.update(
            reference=float(exact_reference["exact"]),
            reference_proven=exact_reference["exact_proven"] in (True, "True"),
        )
        if args.set == "published":
            ref = published[row["instance"]]
            bp_best = float(ref["bp_best_profit"])
            row.update(
                bp_best=bp_best,
                exact_reference=row["reference"],
                exact_reference_proven=row["reference_proven"],
                reference=max(bp_best, row["reference"]),
                reference_proven=row["reference_proven"] or ref["bp_proven_optimal"] == "1",
                neur2ro_published=float(ref["neur2ro_profit"]),
                neur2ro_published_s=float(ref["neur2ro_time_s"]),
            )
    rows.sort(key=lambda r: r["instance"])
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    share = "default" if args.learned_share is None else f"{args.learned_share:g}"
    where = "through the API (job times, started to finished)" if args.api else "in process"
    print(
        f"{args.set}: {len(rows)} instances, {where}, time limit {args.time_limit:g} s per instance and solver, "
        f"learned share {share}, {args.workers} workers, wall time {wall:.0f} s; gaps to {reference_title}"
        + f" ({sum(r['reference_proven'] for r in rows)} of them proven optimal).\n"
    )
    if args.set == "published":
        exact_gaps = [gap(r["bp_best"], r["exact_reference"]) for r in rows]
        print(
            f"exact's reference runs ({reference_time_limit:g} s, in process, "
            f"{REFERENCE_FILES['published'].name}): mean gap to B&P {mean(exact_gaps):.3f} %, "
            f"strictly better than B&P on {sum(g < -BETTER_TOLERANCE_PERCENT for g in exact_gaps)}, "
            f"proven optimal on {sum(r['exact_reference_proven'] for r in rows)}.\n"
        )
    better_title = "B&P" if args.set == "published" else reference_title
    columns = columns_for(better_title, args.with_exact, args.set == "published", args.api)
    print("By size n:\n")
    print(grouped_table(rows, "n", columns))
    print("By correlation type:\n")
    print(grouped_table(rows, "correlation", columns))
    for failure in FAILED_JOBS:
        print(f"not succeeded: {failure}")
    return 1 if FAILED_JOBS else 0


if __name__ == "__main__":
    sys.exit(main())
