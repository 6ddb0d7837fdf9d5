"""How often the xva check rejects the engine's honest answers, and how often it catches a wrong CVA.

Solves generated netting sets (every CSA, IM, default model and option combination, few and many paths,
near the MAX_TOTAL_VARIANCE cap) and prints, per group, the honest answers rejected and the answers caught
with CVA set to 0 (the M4 fabrication) or moved by 10 %. Usage: ``python bench/xva_check.py [instances per variant]``.
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
import time
from typing import Any

import numpy as np

from solvers.base import NeverCancel, NullProgress
from solvers.xva import KIND
from solvers.xva.check_reference import adjustment_weights, has_initial_margin
from solvers.xva.generate import generate
from solvers.xva.monte_carlo import MonteCarloSolver
from solvers.xva.options import MonteCarloOptions
from solvers.xva.schema import MAX_TOTAL_VARIANCE, Instance


def near_cap(seed: int, paths: int) -> dict[str, Any]:
    """One long-dated trade whose underlying sits at the total-variance cap."""
    raw = generate(seed, underlyings=1, trades=1, paths=paths, steps=12, collateralised=False, structural=False)
    maturity = raw["trades"][0]["maturity"] = 10.0
    raw["market"]["underlyings"][0]["vol"] = math.sqrt(MAX_TOTAL_VARIANCE / maturity) * 0.999
    return raw


def fabricate(inst: Instance, solution: dict[str, Any], factor: float) -> dict[str, Any]:
    """The answer with CVA and EPE after t_0 scaled by ``factor``, every identity kept: without IM the
    expected-value fields are dropped and FVA recomputed from EPE − ENE (as the check then does)."""
    fake = copy.deepcopy(solution)
    exposure = fake["exposure"]
    for name in ("epe", "pfe"):
        exposure[name] = exposure[name][:1] + [v * factor for v in exposure[name][1:]]
    fake["cva"] *= factor
    fake["std_error"]["cva"] *= factor
    if not has_initial_margin(inst):
        del exposure["expected_value"], exposure["expected_value_std_error"]
        value = np.array(exposure["epe"]) - np.array(exposure["ene"])
        fake["fva"] = -inst.funding.spread * float(np.sum(adjustment_weights(inst)["fva"] * value[1:]))
    return fake


def verdicts(raw: dict[str, Any], options: MonteCarloOptions) -> tuple[bool, bool, bool]:
    """Whether the check accepts the engine's answer, and whether it rejects it with CVA set to 0 and with
    CVA moved up by 10 % (each with EPE changed to match, so that only the independent estimate can tell)."""
    inst = KIND.parse(raw)
    result = MonteCarloSolver().solve(inst, options, NullProgress(), NeverCancel())
    solution = result.solution
    assert solution is not None
    honest = KIND.check(inst, solution).feasible
    zero = not KIND.check(inst, fabricate(inst, solution, 0.0)).feasible
    return honest, zero, not KIND.check(inst, fabricate(inst, solution, 1.1)).feasible


def main() -> None:
    per_variant = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows = []
    for collateralised, im, structural, simulated, antithetic, paths in itertools.product(
        (False, True), (False, True), (False, True), (False, True), (True, False), (200, 4000)
    ):
        if simulated and not structural:
            continue
        for seed in range(per_variant):
            raw = generate(seed, 2, 4, paths, 12, 8, collateralised, im, structural)
            options = MonteCarloOptions(
                antithetic=antithetic, default_probabilities="simulated" if simulated else "exact"
            )
            rows.append((f"{paths} paths", *verdicts(raw, options)))
    for seed, paths in itertools.product(range(4 * per_variant), (2000, 20000)):
        rows.append((f"near cap, {paths} paths", *verdicts(near_cap(seed, paths), MonteCarloOptions())))
    print("| answers | honest ones rejected | CVA := 0 caught | CVA × 1.1 caught |\n|---|---|---|---|")
    for label in sorted({row[0] for row in rows}):
        group = [row for row in rows if row[0] == label]
        rejected = sum(1 for row in group if not row[1])
        zero, moved = sum(row[2] for row in group), sum(row[3] for row in group)
        print(f"| {len(group)} ({label}) | {rejected} | {zero} | {moved} |")


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"({time.time() - started:.0f} s)")
