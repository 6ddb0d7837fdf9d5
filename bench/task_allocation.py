"""Benchmark of the task_allocation kind: profit gap to the best proven bound, time and proofs per solver.

Every answer is verified with the kind's independent ``check``. The best proven bound of an instance
is the smallest bound any exact run proved (for ``planted`` instances also the planted optimum, which
is proven by construction). gap = (bound − profit) / max(|bound|, 1e-10). All sizes, seeds and time
limits come from the arguments, so a run is bounded by about
instances × configurations × time limit. Examples (what docs/benchmarks/task_allocation.md reports):

    .venv/bin/python bench/task_allocation.py --families random --sizes 10x5 30x10 50x15 --seeds 3 \
        --configs exact:cpsat exact:highs greedy genetic --time-limit 60
    .venv/bin/python bench/task_allocation.py --families random --sizes 2000x400 --seeds 1 --time-limit 20

The learned solver (issue 13) has its own suites:

    .venv/bin/python bench/task_allocation.py --suite held-out --seeds 100 --time-limit 60
    .venv/bin/python bench/task_allocation.py --suite held-out --seeds 100 --time-limit 60 --api 1
    .venv/bin/python bench/task_allocation.py --suite development --first-seed 100 --seeds 100 --time-limit 60 \
        --learned-options '{"neighbourhood_time_limit_s": 0.5}'
    .venv/bin/python bench/task_allocation.py --suite paper --time-limit 60
    .venv/bin/python bench/task_allocation.py --suite large --sizes 200x50 1000x200 2000x400 --seeds 10 \
        --time-limit 5

``held-out``: instances EVALUATION_SEEDS[0..n−1] of solvers/task_allocation/learned/data.py (drawn like the
training instances, never trained on); ``exact`` and ``learned`` (its default search, or
``--learned-options``; no time limit of its own) run on each, and instances ``exact`` does not prove are left
out; with ``--api``, ``learned`` runs as jobs of a local deployment, one at a time, timed as a client sees
them (started → finished: solve, the service's check, storing). ``development``: the same on
DEVELOPMENT_SEEDS (``--first-seed`` on), for choosing settings without looking at the held-out set.
``paper``: the first decision step of the seed paper's Almighty, RBF and Electric environments. ``large``:
random instances; ``learned`` (its defaults: on instances with more tasks than a window, the window search
alternating with local-search steps to the end) and ``genetic`` get the same time limit, ``exact`` the same,
for its bound.
"""

from __future__ import annotations

import argparse
import importlib
import json
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
from solvers.task_allocation.learned.data import DEVELOPMENT_SEEDS, EVALUATION_SEEDS, recipe
from solvers.task_allocation.schema import Instance


@dataclass
class Run:
    """One solver configuration on one instance."""

    config: str
    objective: float
    bound: float | None
    proved: bool
    seconds: float


def solve(instance: Instance, config: str, time_limit: float, seed: int, **extra: Any) -> Run:
    """Run ``solver[:backend]`` and verify its answer independently."""
    name, _, backend = config.partition(":")
    spec = KIND.solvers[name]
    options: dict[str, Any] = {"time_limit_s": time_limit, "seed": seed, **extra}
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


# The seed paper's environments at their first decision step (data from the paper's published
# environments: Almighty, RBF grid, Electric stations), as task_allocation instances.
#: RBF: [cost, capability 1..3] of the 100 agents.
RBF_AGENTS = [
    [0.2, 4, 5, 3],
    [0.3, 7, 8, 4],
    [0.6, 15, 10, 7],
    [0.2, 4, 12, 3],
    [0.4, 5, 3, 1],
    [0.2, 4, 6, 2],
    [0.3, 2, 8, 3],
    [0.3, 7, 9, 3],
    [0.8, 15, 16, 10],
    [0.5, 7, 3, 8],
    [0.6, 2, 4, 3],
    [0.3, 3, 5, 4],
    [0.5, 10, 8, 9],
    [0.6, 3, 5, 7],
    [0.5, 10, 6, 12],
    [0.1, 3, 1, 1],
    [0.2, 3, 4, 2],
    [0.1, 1, 4, 3],
    [0.4, 8, 5, 4],
    [0.3, 6, 4, 1],
    [0.2, 3, 6, 2],
    [0.3, 5, 6, 3],
    [0.1, 2, 1, 4],
    [0.6, 6, 10, 1],
    [0.4, 5, 7, 2],
    [0.2, 3, 3, 3],
    [0.3, 4, 5, 4],
    [0.5, 6, 9, 1],
    [0.8, 12, 10, 2],
    [0.8, 16, 6, 3],
    [0.1, 9, 2, 1],
    [0.2, 2, 8, 3],
    [0.1, 1, 1, 1],
    [0.4, 7, 8, 5],
    [0.5, 16, 4, 10],
    [0.2, 3, 4, 12],
    [0.3, 7, 2, 1],
    [0.1, 3, 6, 4],
    [0.6, 1, 8, 9],
    [0.4, 4, 6, 12],
    [0.6, 4, 2, 4],
    [0.7, 9, 5, 1],
    [0.8, 11, 18, 10],
    [0.4, 6, 6, 8],
    [0.4, 16, 8, 7],
    [0.2, 4, 2, 5],
    [0.3, 6, 8, 4],
    [0.1, 1, 3, 3],
    [0.2, 3, 6, 2],
    [0.3, 9, 1, 4],
    [0.2, 3, 6, 2],
    [0.3, 7, 5, 9],
    [0.2, 3, 5, 8],
    [0.6, 16, 3, 5],
    [0.4, 5, 7, 12],
    [0.1, 1, 1, 4],
    [0.7, 7, 9, 12],
    [0.4, 6, 2, 5],
    [0.6, 7, 8, 6],
    [0.8, 11, 14, 14],
    [0.2, 5, 3, 4],
    [0.3, 4, 7, 8],
    [0.6, 7, 15, 10],
    [0.2, 4, 3, 12],
    [0.4, 1, 5, 3],
    [0.2, 2, 6, 4],
    [0.3, 8, 3, 2],
    [0.3, 9, 3, 7],
    [0.8, 10, 15, 16],
    [0.5, 8, 7, 3],
    [0.6, 12, 4, 3],
    [0.3, 1, 6, 6],
    [0.5, 7, 8, 3],
    [0.4, 5, 3, 9],
    [0.5, 6, 12, 7],
    [0.1, 3, 3, 1],
    [0.2, 6, 1, 2],
    [0.1, 3, 1, 3],
    [0.4, 4, 6, 8],
    [0.3, 2, 6, 5],
    [0.2, 2, 4, 3],
    [0.2, 4, 6, 3],
    [0.1, 2, 1, 3],
    [0.6, 12, 3, 10],
    [0.4, 4, 8, 6],
    [0.2, 3, 3, 3],
    [0.3, 2, 4, 7],
    [0.5, 3, 10, 6],
    [0.8, 14, 10, 6],
    [0.8, 3, 16, 8],
    [0.3, 1, 9, 2],
    [0.3, 8, 3, 2],
    [0.1, 1, 1, 4],
    [0.4, 5, 6, 8],
    [0.7, 4, 16, 10],
    [0.2, 3, 8, 6],
    [0.3, 1, 2, 7],
    [0.2, 3, 6, 4],
    [0.6, 9, 2, 10],
    [0.4, 4, 12, 2],
]
#: RBF: [reward, requirement 1..3] of the first five tasks.
RBF_TASKS = [[3, 20, 30, 30], [3, 30, 20, 20], [5, 50, 40, 20], [4, 20, 50, 40], [5, 30, 50, 50]]
#: Electric: [value, power, x, y] of the 20 sites; sites 0–4 are the first tasks (values doubled), 5–19 serve.
ELECTRIC_SITES = [
    [3, 30, 10, 50],
    [3, 20, 14, 15],
    [5, 50, 16, 78],
    [4, 40, 22, 36],
    [5, 50, 28, 51],
    [3, 40, 32, 26],
    [2, 20, 33, 40],
    [8, 100, 34, 92],
    [3, 20, 35, 73],
    [7, 80, 39, 50],
    [7, 60, 41, 62],
    [4, 40, 53, 20],
    [10, 140, 55, 44],
    [3, 25, 56, 51],
    [4, 40, 61, 79],
    [6, 55, 73, 12],
    [4, 35, 76, 28],
    [8, 85, 82, 65],
    [2, 25, 90, 20],
    [6, 70, 94, 30],
]
#: Electric: per-site conveyance cost per unit of distance.
ELECTRIC_CONVEY = [
    0.04,
    0.03,
    0.04,
    0.05,
    0.05,
    0.02,
    0.03,
    0.03,
    0.03,
    0.04,
    0.04,
    0.03,
    0.02,
    0.04,
    0.04,
    0.03,
    0.02,
    0.03,
    0.03,
    0.02,
]
#: The exact optima of these steps stated in issue 13.
PAPER_OPTIMA = {"Almighty": 35.0, "RBF": 10.80, "Electric": 41.309}


def paper_cases() -> dict[str, dict[str, Any]]:
    """Raw instances of the three paper cases."""
    skills = [f"s{k}" for k in range(1, 9)]
    specialists = [
        {"id": f"a{3 * k + n}", "cost": 1, "capabilities": [1 if m == k else 0 for m in range(8)]}
        for k in range(8)
        for n in range(3)
    ]
    almighty = {
        "capabilities": skills,
        "agents": [*specialists, {"id": "almighty", "cost": 1, "capabilities": [1] * 8}],
        "tasks": [
            *({"id": f"t{k}", "reward": 3, "requirements": [1 if m == k else 0 for m in range(8)]} for k in range(8)),
            {"id": "all", "reward": 20, "requirements": [1] * 8},
        ],
        "pair_costs": None,
    }
    rbf = {
        "capabilities": ["c1", "c2", "c3"],
        "agents": [{"id": f"a{i}", "cost": row[0], "capabilities": row[1:]} for i, row in enumerate(RBF_AGENTS)],
        "tasks": [{"id": f"t{j}", "reward": row[0], "requirements": row[1:]} for j, row in enumerate(RBF_TASKS)],
        "pair_costs": None,
    }
    stations = range(5, 20)
    electric = {
        "capabilities": ["power"],
        "agents": [{"id": f"s{i}", "cost": 0, "capabilities": [ELECTRIC_SITES[i][1]]} for i in stations],
        "tasks": [
            {"id": f"d{j}", "reward": 2 * ELECTRIC_SITES[j][0], "requirements": [2 * ELECTRIC_SITES[j][1]]}
            for j in range(5)
        ],
        "pair_costs": [
            [
                (ELECTRIC_CONVEY[i] + ELECTRIC_CONVEY[j])
                / 2
                * math.dist(ELECTRIC_SITES[i][2:], [2 * v for v in ELECTRIC_SITES[j][2:]])
                for j in range(5)
            ]
            for i in stations
        ],
    }
    return {"Almighty": almighty, "RBF": rbf, "Electric": electric}


def print_row(cells: list[str]) -> None:
    """One markdown table row."""
    print("| " + " | ".join(cells) + " |", flush=True)


def held_out_suite(seeds: range, time_limit: float, learned_options: dict[str, Any], api_workers: int = 0) -> None:
    """exact and learned (with ``learned_options``) on generated instances ``seeds``; gaps to the proven
    optimum and times. With ``api_workers`` > 0, learned runs as jobs of a local deployment instead (a worker
    with that many slots) and its times are the jobs' as a client sees them (see :func:`learned_through_api`)."""
    columns = [
        "instances proved by exact",
        "learned mean gap %",
        "max gap %",
        "≤ 1 % gap",
        "learned mean s",
        "learned max s",
        "exact mean s",
        "exact max s",
        "exact / learned (means)",
    ]
    if api_workers:  # no ratio: the jobs' times include forking, the check and storing, exact's do not
        columns[4:6] = ["learned job mean s (started → finished)", "learned job max s", "learned solve mean s"]
        columns = columns[:-1]
    print_row(columns)
    print("|" + "---|" * len(columns))
    proved: list[tuple[int, Instance, Run]] = []
    for seed in seeds:
        instance = recipe(seed).instance()
        exact = solve(instance, "exact", time_limit, 0)
        if exact.proved:
            proved.append((seed, instance, exact))
    if api_workers:
        answers = learned_through_api(
            [recipe(seed).raw() for seed, _, _ in proved], time_limit, learned_options, api_workers
        )
    else:
        answers = []
        for _, instance, _ in proved:
            learned = solve(instance, "learned", time_limit, 0, **learned_options)
            answers.append((learned.objective, learned.seconds, learned.seconds))
    exact_s = [exact.seconds for _, _, exact in proved]
    gaps = [
        100 * gap(objective, exact.objective) if exact.objective > 0 else 0.0
        for (objective, _, _), (_, _, exact) in zip(answers, proved, strict=True)
    ]
    learned_s = [seconds for _, seconds, _ in answers]
    cells = [
        f"{len(gaps)} of {len(seeds)}",
        f"{statistics.mean(gaps):.3f}",
        f"{max(gaps):.2f}",
        f"{sum(g <= 1 for g in gaps)}/{len(gaps)}",
        f"{statistics.mean(learned_s):.3f}",
        f"{max(learned_s):.2f}",
        f"{statistics.mean(exact_s):.3f}",
        f"{max(exact_s):.2f}",
        f"{statistics.mean(exact_s) / statistics.mean(learned_s):.1f}",
    ]
    if api_workers:
        cells = [*cells[:6], f"{statistics.mean(solve_s for _, _, solve_s in answers):.3f}", *cells[6:-1]]
    print_row(cells)


def learned_through_api(
    raws: list[dict[str, Any]], time_limit: float, options: dict[str, Any], workers: int
) -> list[tuple[float, float, float]]:
    """Submit each instance as a ``learned`` job to a fresh local deployment (one API process, a worker with
    ``workers`` slots), as a client would, one job at a time; per instance the verified objective (the
    service's own check), the job's time from started_at to finished_at (solve, check, storing) and the
    solve's own time (its ``stats.solve_time_s``)."""
    import sys
    from pathlib import Path

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from service import Deployment

    deployment = Deployment(api_processes=1, clients=1)
    answers: list[tuple[float, float, float]] = []
    try:
        deployment.start_workers(workers)
        headers = {"Authorization": f"Bearer {deployment.keys[0]}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{deployment.port}", headers=headers, timeout=60) as client:
            for raw in raws:
                body = {
                    "kind": "task_allocation",
                    "instance": raw,
                    "solver": "learned",
                    "options": {"time_limit_s": time_limit, "seed": 0, **options},
                }
                job_id = client.post("/v1/jobs", json=body).raise_for_status().json()["id"]
                while (job := client.get(f"/v1/jobs/{job_id}").raise_for_status().json())["finished_at"] is None:
                    time.sleep(0.05)
                if job["status"] != "succeeded":
                    raise RuntimeError(f"learned job {job_id} did not succeed: {json.dumps(job)}")
                result = client.get(f"/v1/jobs/{job_id}/result").raise_for_status().json()
                if not result["verification"]["feasible"]:
                    raise RuntimeError(f"the service's check refused learned's answer: {result['verification']}")
                job_s = (
                    datetime.fromisoformat(job["finished_at"]).timestamp()
                    - datetime.fromisoformat(job["started_at"]).timestamp()
                )
                answers.append((result["verification"]["objective"], job_s, result["stats"]["solve_time_s"]))
    finally:
        deployment.close()
    return answers


def paper_suite(time_limit: float) -> None:
    """exact and learned on the three paper cases."""
    print_row(
        ["case", "agents × tasks", "issue's optimum", "exact", "exact s", "learned", "learned gap %", "learned s"]
    )
    print("|" + "---|" * 8)
    for name, raw in paper_cases().items():
        instance = KIND.parse(raw)
        exact = solve(instance, "exact", time_limit, 0)
        learned = solve(instance, "learned", time_limit, 0)
        print_row(
            [
                name,
                f"{instance.n_agents} × {instance.n_tasks}",
                f"{PAPER_OPTIMA[name]:g}",
                f"{exact.objective:.3f}" + ("" if exact.proved else " (not proved)"),
                f"{exact.seconds:.2f}",
                f"{learned.objective:.3f}",
                f"{100 * gap(learned.objective, exact.objective):.2f}",
                f"{learned.seconds:.2f}",
            ]
        )


def large_suite(sizes: list[str], count: int, time_limit: float) -> None:
    """learned against genetic at equal time on large random instances, gaps to exact's bound."""
    print_row(
        [
            "agents × tasks",
            "instances",
            "learned mean gap %",
            "genetic mean gap %",
            "learned better",
            "learned mean s",
            "genetic mean s",
            "exact mean gap %",
        ]
    )
    print("|" + "---|" * 8)
    for size in sizes:
        agents, tasks = parse_size(size)
        rows: list[tuple[float, float, float, float, float]] = []
        for seed in range(count):
            instance = KIND.parse(generate(seed, agents, tasks))
            exact = solve(instance, "exact", time_limit, seed)
            learned = solve(instance, "learned", time_limit, seed)
            genetic = solve(instance, "genetic", time_limit, seed)
            best = max(exact.objective, learned.objective, genetic.objective)
            bound = exact.bound if exact.bound is not None and math.isfinite(exact.bound) else best
            rows.append(
                (
                    100 * gap(learned.objective, bound),
                    100 * gap(genetic.objective, bound),
                    learned.seconds,
                    genetic.seconds,
                    100 * gap(exact.objective, bound),
                )
            )
        print_row(
            [
                f"{agents} × {tasks}",
                str(count),
                f"{statistics.mean(r[0] for r in rows):.2f}",
                f"{statistics.mean(r[1] for r in rows):.2f}",
                f"{sum(r[0] < r[1] for r in rows)}/{count}",
                f"{statistics.mean(r[2] for r in rows):.2f}",
                f"{statistics.mean(r[3] for r in rows):.2f}",
                f"{statistics.mean(r[4] for r in rows):.2f}",
            ]
        )


def main() -> None:
    """Parse arguments, run every (family, size, seed, configuration), print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["solvers", "held-out", "development", "paper", "large"], default="solvers")
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
    parser.add_argument(
        "--learned-options",
        type=json.loads,
        default={},
        help="options of learned as JSON, e.g. '{\"neighbourhood_time_limit_s\": 0.5}' (held-out and development)",
    )
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first instance of the held-out or development seeds used"
    )
    parser.add_argument(
        "--api",
        type=int,
        default=0,
        metavar="SLOTS",
        help="held-out and development: run learned as jobs of a fresh local deployment (API process and a worker "
        "with SLOTS slots; needs PostgreSQL and Redis) instead of in process",
    )
    args = parser.parse_args()
    heuristic_limit = args.heuristic_time_limit or args.time_limit
    for backend in ("highspy", "ortools.sat.python.cp_model"):  # import time stays out of the timings
        importlib.import_module(backend)
    KIND.solvers["learned"].load()  # reads the weights once, outside the timings
    if args.suite != "solvers":
        print(
            f"task_allocation {args.suite} suite, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"Python {platform.python_version()}; time limit {args.time_limit:g} s, 1 thread, shared 2-core machine"
        )
        print()
        if args.suite in ("held-out", "development"):
            seeds = EVALUATION_SEEDS if args.suite == "held-out" else DEVELOPMENT_SEEDS
            if args.learned_options:
                print(f"learned options: {json.dumps(args.learned_options)}\n")
            held_out_suite(
                seeds[args.first_seed : args.first_seed + args.seeds], args.time_limit, args.learned_options, args.api
            )
        elif args.suite == "paper":
            paper_suite(args.time_limit)
        else:
            large_suite(args.sizes, args.seeds, args.time_limit)
        return

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
