"""Treemap benchmark: aspect ratios and times of every solver, with the PyPI ``squarify`` package as a peer.

Prints markdown tables for (a) ε / 1 − ε chains of depth 1..D, (b) random heavy-tailed trees of
growing size, (c) directory trees of this machine. Every layout up to ``--check-max-nodes`` nodes is
verified with the kind's independent check. All sizes and limits come from the arguments.

    .venv/bin/python bench/treemap.py --sizes 1000 10000 100000 1000000 --dirs /usr/lib/python3
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import squarify

from solvers.base import NeverCancel, NullProgress
from solvers.treemap import KIND
from solvers.treemap.generate import directory_tree, epsilon_chain, generate
from solvers.treemap.geometry import fatness
from solvers.treemap.schema import TreemapInstance, parse

PEER = "squarify (PyPI)"


def polygon_aspects(nodes: list[dict[str, Any]]) -> list[float]:
    """diameter² / area of every node: one measure for rectangles and polygons alike."""
    return [fatness([(p[0], p[1]) for p in node["polygon"]]) for node in nodes]


def peer_layout(instance: TreemapInstance) -> list[dict[str, Any]]:
    """Nested layout by the squarify package, one level at a time (it lays out a single level)."""
    n = instance.size
    boxes: list[tuple[float, float, float, float]] = [(0.0, 0.0, instance.width, instance.height)] * n
    for node in range(n):
        kids = sorted(instance.children(node), key=instance.weight.__getitem__, reverse=True)
        if not kids:
            continue
        x, y, dx, dy = boxes[node]
        sizes = squarify.normalize_sizes([instance.weight[k] for k in kids], dx, dy)
        for kid, rect in zip(kids, squarify.squarify(sizes, x, y, dx, dy), strict=True):
            boxes[kid] = (rect["x"], rect["y"], rect["dx"], rect["dy"])
    return [{"polygon": [[x, y], [x + dx, y], [x + dx, y + dy], [x, y + dy]]} for x, y, dx, dy in boxes]


def run_solver(instance: TreemapInstance, solver: str, time_limit: float, check: bool) -> dict[str, Any]:
    """One solve: objective, diameter² / area statistics, times, verification."""
    spec = KIND.solvers[solver]
    start, cpu_start = time.perf_counter(), time.process_time()
    options = spec.options(time_limit_s=time_limit)
    result = spec.load().solve(instance, options, NullProgress(), NeverCancel())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if result.solution is None:
        return {"solver": solver, "status": result.termination.value, "time": wall}
    aspects = polygon_aspects(result.solution["nodes"])
    row = {
        "solver": solver,
        "objective": result.objective,
        "measure": result.solution["aspect_ratio_measure"],
        "max_d2a": max(aspects),
        "mean_d2a": math.fsum(aspects) / len(aspects),
        "layout": result.stats.get("layout_time_s", wall),
        "time": wall,
        "cpu": cpu,
        "verified": "-",
    }
    if check:
        row["verified"] = "yes" if KIND.verify(instance, result.solution, options.model_dump()).feasible else "NO"
    return row


def run_peer(instance: TreemapInstance) -> dict[str, Any]:
    """The squarify package on the same tree (rectangles; max side ratio as objective)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    nodes = peer_layout(instance)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    aspects = polygon_aspects(nodes)
    sides = []
    for node in nodes:
        (x0, y0), _, (x1, y1), _ = node["polygon"]
        w, h = x1 - x0, y1 - y0
        sides.append(max(w / h, h / w) if w > 0 and h > 0 else math.inf)
    return {
        "solver": PEER,
        "objective": max(sides),
        "measure": "max_side_ratio",
        "max_d2a": max(aspects),
        "mean_d2a": math.fsum(aspects) / len(aspects),
        "layout": wall,
        "time": wall,
        "cpu": cpu,
        "verified": "-",
    }


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 or math.isinf(value) else f"{value:.2e}"
    return str(value)


def table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, Any]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(label for label, _ in columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(fmt(row.get(key, "")) for _, key in columns) + " |")


COLUMNS = [
    ("instance", "instance"),
    ("nodes", "nodes"),
    ("solver", "solver"),
    ("objective (max AR)", "objective"),
    ("max d²/A", "max_d2a"),
    ("mean d²/A", "mean_d2a"),
    ("layout s", "layout"),
    ("solve s", "time"),
    ("solve CPU s", "cpu"),
    ("verified", "verified"),
]


def chains(args: argparse.Namespace) -> None:
    """Maximum aspect ratio (d²/A for every solver) against depth: one row per solver and ε."""
    rows = []
    for solver in [*args.solvers, PEER] if args.peer else args.solvers:
        for epsilon in args.epsilons:
            row: dict[str, Any] = {"solver": solver, "epsilon": epsilon}
            for depth in args.chain_depths:
                instance = parse(epsilon_chain(depth, epsilon))
                if solver == PEER:
                    row[depth] = run_peer(instance)["max_d2a"]
                else:
                    outcome = run_solver(instance, solver, args.time_limit, check=True)
                    if outcome["verified"] != "yes":
                        raise SystemExit(f"{solver} failed the check on the chain ({depth}, {epsilon})")
                    row[depth] = outcome["max_d2a"]
            rows.append(row)
    columns = [("solver", "solver"), ("ε", "epsilon")] + [(f"d={d}", d) for d in args.chain_depths]
    table("(a) ε / 1 − ε chains: maximum aspect ratio (diameter² / area) against depth d", rows, columns)


def sized(title: str, cases: list[tuple[str, Callable[[], dict[str, Any]]]], args: argparse.Namespace) -> None:
    rows = []
    for name, make in cases:
        start = time.perf_counter()
        instance = parse(make())
        prepare = time.perf_counter() - start
        print(f"<!-- {name}: {instance.size} nodes generated and parsed in {prepare:.2f} s -->", flush=True)
        check = instance.size <= args.check_max_nodes
        for solver in args.solvers:
            if solver == "polygonal" and instance.size > args.polygonal_max_nodes:
                continue
            rows.append(
                {
                    "instance": name,
                    "nodes": instance.size,
                    **run_solver(instance, solver, args.time_limit, check),
                }
            )
        if args.peer:
            rows.append({"instance": name, "nodes": instance.size, **run_peer(instance)})
        del instance
    table(title, rows, COLUMNS)


def pictures(args: argparse.Namespace) -> None:
    """Write one SVG per solver of the directory tree ``--picture-tree`` into ``--pictures``."""
    instance = parse(directory_tree(args.picture_tree, args.picture_max_nodes))
    assert KIND.render_svg is not None
    for solver in args.solvers:
        spec = KIND.solvers[solver]
        result = spec.load().solve(instance, spec.options(), NullProgress(), NeverCancel())
        result_dict = {"solver": solver, "objective": result.objective, "solution": result.solution}
        path = f"{args.pictures}/treemap-{solver}.svg"
        with open(path, "w", encoding="utf-8") as out:
            out.write(KIND.render_svg(instance, result_dict))
        print(f"<!-- wrote {path}: {instance.size} nodes of {args.picture_tree} -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solvers", nargs="+", default=list(KIND.solvers), choices=list(KIND.solvers))
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1e-2, 1e-4, 1e-6, 1e-9])
    parser.add_argument(
        "--chain-depths",
        nargs="*",
        type=int,
        default=[1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20],
        help="ε-chain depths",
    )
    parser.add_argument("--sizes", nargs="*", type=int, default=[1000, 10000], help="random tree sizes")
    parser.add_argument("--tail", type=float, default=1.2, help="Pareto index of the leaf weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dirs", nargs="*", default=[], help="directories to lay out (their file sizes)")
    parser.add_argument("--dir-max-nodes", type=int, default=20000)
    parser.add_argument("--polygonal-max-nodes", type=int, default=20000, help="skip polygonal above this")
    parser.add_argument("--check-max-nodes", type=int, default=100000, help="verify layouts up to this size")
    parser.add_argument("--time-limit", type=float, default=120.0, help="per solve, seconds")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the squarify package")
    parser.add_argument("--pictures", help="write treemap-<solver>.svg of --picture-tree into this folder")
    parser.add_argument("--picture-tree", default=".", help="directory drawn by --pictures")
    parser.add_argument("--picture-max-nodes", type=int, default=1500)
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Treemap benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load}")
    if args.chain_depths:
        chains(args)
    if args.sizes:
        cases = [
            (f"random n={n}", lambda n=n: generate(args.seed, n, tail=args.tail, fmt="csv", width=1.6))
            for n in args.sizes
        ]
        sized(f"(b) random trees, Pareto({args.tail}) leaf weights, 1.6 x 1 container", cases, args)
    if args.dirs:
        cases = [(path, lambda path=path: directory_tree(path, args.dir_max_nodes)) for path in args.dirs]
        sized("(c) directory trees of this machine (file sizes in bytes)", cases, args)
    if args.pictures:
        pictures(args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak resident memory of the benchmark process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
