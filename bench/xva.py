"""Benchmark of the xva kind: accuracy against closed forms, bridge vs grid-only structural default,
runtime against paths × dates × underlyings, variance reduction (standard error per second), the issue-14
speed target, and deep_bsde against monte_carlo (accuracy in combined standard errors, time).

Prints markdown tables. Example (what docs/benchmarks/xva.md reports):

    .venv/bin/python bench/xva.py --paths 20000 --scale-paths 10000 --big-paths 100000
"""

from __future__ import annotations

import argparse
import copy
import math
import multiprocessing as mp
import os
import platform
import resource
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import norm

from solvers.base import NeverCancel, NullProgress
from solvers.xva import EXAMPLE, KIND
from solvers.xva.default_models import default_cdf, importance_shift, simulate_structural
from solvers.xva.generate import generate
from solvers.xva.monte_carlo import MonteCarloSolver
from solvers.xva.options import MonteCarloOptions
from solvers.xva.schema import StructuralDefault

RATE, VOL, SPOT = 0.01, 0.25, 100.0


def run(raw: dict[str, Any], **options: Any) -> tuple[dict[str, Any], float]:
    """Solve once; the solution (checked) and the wall time."""
    inst = KIND.parse(raw)
    options.setdefault("time_limit_s", 3_600)
    started = time.perf_counter()
    result = MonteCarloSolver().solve(inst, MonteCarloOptions(**options), NullProgress(), NeverCancel())
    elapsed = time.perf_counter() - started
    assert result.solution is not None
    verification = KIND.check(inst, result.solution)
    assert verification.feasible, verification.message
    return result.solution, elapsed


def bs(kind: str, spot: float, strike: float, tau: float, dividend: float = 0.0) -> float:
    """Black–Scholes price at the benchmark's rate and volatility."""
    fwd, pv = spot * math.exp(-dividend * tau), strike * math.exp(-RATE * tau)
    d1 = (math.log(fwd / pv) + 0.5 * VOL**2 * tau) / (VOL * math.sqrt(tau))
    call = fwd * norm.cdf(d1) - pv * norm.cdf(d1 - VOL * math.sqrt(tau))
    return float(call if kind == "call" else call - fwd + pv)


def one_trade(trade_type: str, quantity: float, paths: int, steps: int, maturity: float = 1.0) -> dict[str, Any]:
    """The API example with one uncollateralised trade."""
    raw = copy.deepcopy(EXAMPLE)
    raw["trades"] = [
        {
            "id": "t1",
            "type": trade_type,
            "underlying": "S1",
            "strike": 100.0,
            "maturity": maturity,
            "quantity": quantity,
        }
    ]
    raw["simulation"] = {"paths": paths, "steps": steps, "seed": 11}
    raw["funding"] = {"spread": 0.01}
    return raw


def accuracy(paths: int) -> None:
    """Estimates against closed forms."""
    print(f"\n### Accuracy against closed forms ({paths} paths, 50 dates, antithetic)\n")
    print("| quantity | closed form | estimate | std error | error / std error |")
    print("|---|---:|---:|---:|---:|")
    steps = 50
    times = np.linspace(0.0, 1.0, steps + 1)
    bank = StructuralDefault(model="structural", asset=100.0, vol=0.2, barrier=50.0)
    bank_cdf = default_cdf(bank, RATE, times)
    hazard_cdf = 1 - np.exp(-0.02 * times)
    call = bs("call", SPOT, 100.0, 1.0)
    solution, _ = run(one_trade("european_call", 1.0, paths, steps))
    rows = [("CVA, long call: 0.6·V0·(1 − e^{−λT})", 0.6 * call * hazard_cdf[-1], solution, "cva")]
    rows.append(
        (
            "FVA, long call: −s·V0·Σ δt·S_c·S_b",
            -0.01 * call * float(np.sum(np.diff(times) * ((1 - hazard_cdf) * (1 - bank_cdf))[:-1])),
            solution,
            "fva",
        )
    )
    short, _ = run(one_trade("european_call", -1.0, paths, steps))
    rows.append(("DVA, short call, Black–Cox bank: 0.6·V0·F_BC(T)", 0.6 * call * bank_cdf[-1], short, "dva"))
    forward, _ = run(one_trade("forward", 1.0, paths, steps))
    epe = np.array([0.0] + [bs("call", SPOT, 100.0 * math.exp(-RATE * (1 - t)), t) for t in times[1:]])
    ene = np.array([0.0] + [bs("put", SPOT, 100.0 * math.exp(-RATE * (1 - t)), t) for t in times[1:]])
    v0 = SPOT - 100.0 * math.exp(-RATE)
    epe[0], ene[0] = max(v0, 0.0), max(-v0, 0.0)
    rows.append(
        (
            "CVA, forward: 0.6·Σ Call(S0, K·e^{−r(T−t)}, t)·PD",
            0.6 * float(np.sum(epe[1:] * np.diff(hazard_cdf))),
            forward,
            "cva",
        )
    )
    rows.append(
        (
            "DVA, forward: 0.6·Σ Put(…)·PD_bank",
            0.6 * float(np.sum(ene[1:] * np.diff(bank_cdf))),
            forward,
            "dva",
        )
    )
    for label, exact, sol, name in rows:
        se = sol["std_error"][name]
        print(f"| {label} | {exact:.6f} | {sol[name]:.6f} | {se:.2e} | {(sol[name] - exact) / se:+.2f} |")


def structural(paths: int) -> None:
    """Grid-only against bridge-corrected first passage, and importance sampling of rare defaults."""
    print(f"\n### Structural default probability by T = 1 ({paths} paths): grid-only vs Brownian bridge\n")
    print(
        "| barrier | dates | exact (Black–Cox) | grid-only | rel. error | bridge | std error | (bridge − exact)/se "
        "| grid-only vs bridge, same paths |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for barrier in (65.0, 80.0):
        model = StructuralDefault(model="structural", asset=100.0, vol=0.25, barrier=barrier)
        exact = float(default_cdf(model, RATE, np.array([1.0]))[0])
        for steps in (12, 50, 200):
            times = np.linspace(0.0, 1.0, steps + 1)
            normals = np.random.default_rng(1).standard_normal((paths, steps))
            grid = simulate_structural(model, RATE, times, normals, bridge=False).default.sum(axis=1).mean()
            bridged = simulate_structural(model, RATE, times, normals, bridge=True).default.sum(axis=1)
            se = bridged.std(ddof=1) / math.sqrt(paths)
            print(
                f"| {barrier:g} | {steps} | {exact:.5f} | {grid:.5f} | {(grid - exact) / exact:+.1%} | "
                f"{bridged.mean():.5f} | {se:.1e} | {(bridged.mean() - exact) / se:+.2f} | "
                f"{grid / bridged.mean() - 1:+.1%} |"
            )
    print(f"\n### Rare structural default: importance sampling ({paths} paths, 50 dates, bridge)\n")
    print("| barrier | exact PD(T) | plain estimate | plain se | IS estimate | IS se | variance ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    times = np.linspace(0.0, 1.0, 51)
    for barrier in (60.0, 50.0, 40.0):
        model = StructuralDefault(model="structural", asset=100.0, vol=0.2, barrier=barrier)
        exact = float(default_cdf(model, RATE, np.array([1.0]))[0])
        normals = np.random.default_rng(2).standard_normal((paths, 50))
        out = []
        for shift in (0.0, importance_shift(model, RATE, 1.0)):
            pd = simulate_structural(model, RATE, times, normals, shift=shift).default.sum(axis=1)
            out.append((pd.mean(), pd.std(ddof=1) / math.sqrt(paths)))
        ratio = f"{(out[0][1] / out[1][1]) ** 2:.0f}" if out[0][1] > 0 else "no default seen without IS"
        print(
            f"| {barrier:g} | {exact:.3e} | {out[0][0]:.3e} | {out[0][1]:.1e} | {out[1][0]:.3e} | "
            f"{out[1][1]:.1e} | {ratio} |"
        )


def structural_cva(paths: int) -> None:
    """CVA of a long call against a rarely defaulting structural counterparty, by PD method."""
    print(f"\n### CVA with a structural counterparty (X₀ 100, s 0.2, B 50; long call; {paths} paths)\n")
    print("| default probabilities | importance sampling | CVA | std error | (CVA − exact)/se | wall s |")
    print("|---|---|---:|---:|---:|---:|")
    raw = one_trade("european_call", 1.0, paths, 50)
    model = StructuralDefault(model="structural", asset=100.0, vol=0.2, barrier=50.0)
    raw["counterparty"] = {"recovery": 0.4, "default": model.model_dump()}
    exact = 0.6 * bs("call", SPOT, 100.0, 1.0) * float(default_cdf(model, RATE, np.array([1.0]))[0])
    for method, importance in (("exact", False), ("simulated", False), ("simulated", True)):
        solution, elapsed = run(raw, default_probabilities=method, importance_sampling=importance)
        se = solution["std_error"]["cva"]
        print(
            f"| {method} | {'yes' if importance else 'no'} | {solution['cva']:.3e} | {se:.1e} | "
            f"{(solution['cva'] - exact) / se:+.2f} | {elapsed:.2f} |"
        )
    print(f"\nclosed form: {exact:.4e}")


def _timed_case(args: tuple[int, int, int, int, bool]) -> tuple[float, float, float, float]:
    """In a fresh process: wall time, CVA, its std error and peak resident memory (MiB)."""
    paths, steps, underlyings, trades, with_im = args
    raw = generate(3, underlyings=underlyings, trades=trades, paths=paths, steps=steps, initial_margin=with_im)
    solution, elapsed = run(raw)
    with open("/proc/self/status") as status:
        peak_kib = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    peak = peak_kib / 1024 or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return elapsed, solution["cva"], solution["std_error"]["cva"], peak


def scaling(paths: int, big_paths: int) -> None:
    """Runtime and peak memory against paths × dates × underlyings (each case in a fresh process)."""
    print("\n### Runtime against paths × dates × underlyings (fresh process per row; 10-day margin period)\n")
    print(
        "| paths | dates | underlyings | trades | initial margin | wall s | paths/s | CVA | std error | peak RSS MiB |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    cases = [
        (paths, 50, 5, 20, False),
        (paths, 100, 5, 20, False),
        (paths, 100, 20, 50, False),
        (paths, 100, 20, 50, True),
        (2 * paths, 100, 20, 50, False),
        (paths, 200, 20, 50, False),
    ]
    if big_paths:
        cases.append((big_paths, 200, 20, 50, False))
    context = mp.get_context("spawn")
    for case in cases:
        with context.Pool(1) as pool:
            elapsed, cva, se, peak = pool.apply(_timed_case, (case,))
        p, steps, unds, trades, im = case
        print(
            f"| {p} | {steps} | {unds} | {trades} | {'yes' if im else 'no'} | {elapsed:.1f} "
            f"| {p / elapsed:,.0f} | "
            f"{cva:.4f} | {se:.1e} | {peak:.0f} |"
        )


def variance_reduction(paths: int) -> None:
    """Antithetic paths on and off: standard error per second (efficiency = 1 / (se² · time))."""
    print(f"\n### Variance reduction ({paths} paths, 50 dates)\n")
    print("| netting set | antithetic | CVA | std error | wall s | efficiency gain |")
    print("|---|---|---:|---:|---:|---:|")
    cases = {
        "long call": one_trade("european_call", 1.0, paths, 50),
        "forward": one_trade("forward", 1.0, paths, 50),
        "5 underlyings, 20 trades": generate(4, underlyings=5, trades=20, paths=paths, steps=50),
    }
    for label, raw in cases.items():
        runs = [run(raw, antithetic=flag) for flag in (False, True)]
        base = 1 / (runs[0][0]["std_error"]["cva"] ** 2 * runs[0][1])
        for flag, (solution, elapsed) in zip((False, True), runs, strict=True):
            gain = 1 / (solution["std_error"]["cva"] ** 2 * elapsed) / base
            print(
                f"| {label} | {'yes' if flag else 'no'} | {solution['cva']:.5f} | "
                f"{solution['std_error']['cva']:.2e} | {elapsed:.2f} | {gain:.2f}× |"
            )


def speed(repeats: int) -> None:
    """Solve time of CVA and DVA with standard errors: one underlying, 50 trades, 8,192 paths × 260 dates,
    uncollateralised (the issue-14 target: ≤ 2 s on one core)."""
    raw = generate(5, underlyings=1, trades=50, paths=8_192, steps=259, collateralised=False, max_maturity_quarters=20)
    inst = KIND.parse(raw)
    print("\n### Speed: 1 underlying, 50 trades, 8,192 paths × 260 dates (solve time, one process)\n")
    print("| run | solve s (wall) | CPU s | CVA | std error | DVA | std error | load average |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i in range(repeats):
        cpu = time.process_time()
        result = MonteCarloSolver().solve(inst, MonteCarloOptions(time_limit_s=600), NullProgress(), NeverCancel())
        cpu = time.process_time() - cpu
        solution = result.solution
        assert solution is not None and KIND.check(inst, solution).feasible
        errors = solution["std_error"]
        print(
            f"| {i + 1} | {result.stats['solve_time_s']:.2f} | {cpu:.2f} | {solution['cva']:.4f} | {errors['cva']:.4f} "
            f"| {solution['dva']:.4f} | {errors['dva']:.4f} | {os.getloadavg()[0]:.1f} |"
        )


def deep_bsde_comparison(paths: int, steps: int, time_limit: float) -> None:
    """deep_bsde against monte_carlo on the documented cases: a closed form, then generated netting sets with
    variation margin and 99 % IM on 1, 5, 20 and 50 underlyings. Per adjustment both estimates with their
    standard errors (deep_bsde's include the networks' error: the replicas' spread), the difference in
    combined standard errors, both solve times, and monte_carlo's time scaled to deep_bsde's standard
    error (t_mc·(se_mc/se_deep)²: the time monte_carlo would need for the same accuracy)."""
    from solvers.xva.deep_bsde import DeepBsdeSolver
    from solvers.xva.options import DeepBsdeOptions

    call = one_trade("european_call", 1.0, paths, steps)
    call["collateral"] = dict(call["collateral"], threshold=None, initial_margin=None)
    call["counterparty"] = {"recovery": 0.4, "default": {"model": "hazard", "rate": 0.02}}
    exact_cva = 0.6 * bs("call", SPOT, 100.0, 1.0) * (1.0 - math.exp(-0.02))
    cases: list[tuple[str, dict[str, Any], float | None]] = [("long call, CVA closed form", call, exact_cva)]
    for seed, (n_und, n_trades) in enumerate([(1, 4), (5, 10), (20, 40), (50, 60)], start=31):
        raw = generate(
            seed, underlyings=n_und, trades=n_trades, paths=paths, steps=steps, initial_margin=True, structural=False
        )
        cases.append((f"{n_und} und., {n_trades} trades, VM + IM", raw, None))
    print(
        f"\n### deep_bsde against monte_carlo ({paths} paths, {steps} steps; deep_bsde time limit {time_limit:g} s)\n"
    )
    print(
        "| case | adj. | monte_carlo ± se | deep_bsde ± se | (deep − mc)/combined se | mc s | deep s "
        "| mc s at deep's se | deep faster at equal se | deep verified |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for label, raw, exact in cases:
        inst = KIND.parse(raw)
        reference, mc_s = run(raw)
        started = time.perf_counter()
        result = DeepBsdeSolver().solve(inst, DeepBsdeOptions(time_limit_s=time_limit), NullProgress(), NeverCancel())
        deep_s = time.perf_counter() - started
        solution = result.solution
        if solution is None:
            print(
                f"| {label} | – | {reference['cva']:.5g} ± {reference['std_error']['cva']:.2g} | no solution "
                f"({result.termination.value}: training took the budget) | | {mc_s:.2f} | {deep_s:.1f} | | | |"
            )
            continue
        verified = KIND.check(inst, solution).feasible
        note = "" if result.termination.value == "optimal" else f" ({result.termination.value})"
        names = ["cva"] if exact is not None else ["cva", "dva", "mva"]
        for name in names:
            se_mc, se_deep = reference["std_error"][name], solution["std_error"][name]
            combined = math.hypot(se_mc, se_deep)
            gap = (solution[name] - reference[name]) / combined if combined > 0 else float("nan")
            equal = mc_s * (se_mc / se_deep) ** 2 if se_deep > 0 else float("inf")
            closed = f" (exact {exact:.5g})" if exact is not None else ""
            print(
                f"| {label}{closed} | {name.upper()} | {reference[name]:.5g} ± {se_mc:.2g} | "
                f"{solution[name]:.5g} ± {se_deep:.2g} | {gap:+.2f} | {mc_s:.2f} | {deep_s:.1f}{note} | "
                f"{equal:.2f} | {'yes' if deep_s < equal else 'no'} | {'yes' if verified else 'no'} |"
            )
        print(
            f"| {label} | stats | training {result.stats['training_s']:.1f} s, replicas {result.stats['replicas']}, "
            f"complete {result.stats['training_complete']}, load {os.getloadavg()[0]:.1f} | | | | | | | | |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=20_000, help="paths of the accuracy and variance sections")
    parser.add_argument("--scale-paths", type=int, default=10_000, help="paths of the runtime rows")
    parser.add_argument(
        "--big-paths", type=int, default=0, help="also run paths × 200 dates × 20 underlyings (0: skip)"
    )
    parser.add_argument("--sections", default="accuracy,structural,scaling,variance,speed,deep_bsde")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the speed section")
    parser.add_argument("--deep-paths", type=int, default=2_000, help="paths of the deep_bsde section")
    parser.add_argument("--deep-steps", type=int, default=24, help="steps of the deep_bsde section")
    parser.add_argument("--deep-time-limit", type=float, default=60.0, help="deep_bsde's time_limit_s per case")
    args = parser.parse_args()
    print(
        f"xva benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    sections = set(args.sections.split(","))
    if "accuracy" in sections:
        accuracy(args.paths)
    if "structural" in sections:
        structural(args.paths)
    if "structural" in sections:
        structural_cva(args.paths)
    if "scaling" in sections:
        scaling(args.scale_paths, args.big_paths)
    if "variance" in sections:
        variance_reduction(args.paths)
    if "speed" in sections:
        speed(args.repeats)
    if "deep_bsde" in sections:
        deep_bsde_comparison(args.deep_paths, args.deep_steps, args.deep_time_limit)


if __name__ == "__main__":
    main()
