"""Exact second-stage solver and exact worst-case evaluation of a first-stage selection.

These functions are shared by every solver; ``check`` has its own implementation (issue 18).

* :func:`best_reaction` solves the second stage for item values: each item is left out, produced
  (weight c, value v₁) or produced and repaired (weight c + t, value v₂) — a multiple-choice
  knapsack solved by dynamic programming over the integral capacity, O(n·C).
* :func:`evaluate` computes min_ξ max_{(y,r) ∈ Y(x)} of the second-stage profit by Kelley's cutting
  planes over ξ: an LP over (ξ, z) with one cut per reaction found so far, and the dynamic program
  at the LP's ξ to find the next reaction, until the LP value and the best reaction meet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from solvers.knapsack_2ro.schema import Instance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Relative tolerance at which the cutting planes of :func:`evaluate` are considered to meet.
EVALUATION_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Data:
    """An instance as numpy arrays."""

    capacity: int
    budget: float
    profit: FloatArray
    degradation: FloatArray
    weight: IntArray
    repair_weight: IntArray
    penalty: FloatArray

    @property
    def n(self) -> int:
        """Number of items."""
        return int(self.profit.shape[0])

    @staticmethod
    def of(instance: Instance) -> Data:
        """Arrays of a parsed instance."""
        return Data(
            capacity=instance.capacity,
            budget=instance.budget,
            profit=np.asarray(instance.profit, dtype=np.float64),
            degradation=np.asarray(instance.degradation, dtype=np.float64),
            weight=np.asarray(instance.weight, dtype=np.int64),
            repair_weight=np.asarray(instance.repair_weight, dtype=np.int64),
            penalty=np.asarray(instance.outsource_penalty, dtype=np.float64),
        )


@dataclass(frozen=True)
class Reaction:
    """A second-stage decision: produced items y and repaired items r (r ≤ y)."""

    produce: BoolArray
    repair: BoolArray

    def key(self) -> bytes:
        """A hashable identity."""
        return self.produce.tobytes() + self.repair.tobytes()


@dataclass(frozen=True)
class WorstCase:
    """The exact worst case of a first-stage selection."""

    objective: float
    """Worst-case total profit Σ(p̄ − f)x + min_ξ max_{y,r} second-stage profit."""
    lower: float
    """The cutting-plane LP value (≤ objective, equal up to the tolerance)."""
    xi: FloatArray
    reaction: Reaction
    reactions: list[Reaction]
    """Every reaction generated on the way (useful as columns elsewhere)."""
    iterations: int

    @property
    def converged(self) -> bool:
        """True when ``objective`` is exact (the cutting planes met); False if stopped early."""
        return self.objective - self.lower <= EVALUATION_TOLERANCE * max(1.0, abs(self.objective))


def best_reaction(
    data: Data, value_produce: FloatArray, value_repair: FloatArray, allowed: BoolArray
) -> tuple[float, Reaction]:
    """Maximise Σ v₁ᵢ·[produced, not repaired] + v₂ᵢ·[produced and repaired] within the capacity.

    Items outside ``allowed`` are never produced. Returns the optimal value and reaction.
    """
    capacity = data.capacity
    best = np.zeros(capacity + 1)
    candidates = [
        i
        for i in range(data.n)
        if allowed[i]
        and (
            (value_produce[i] > 0 and data.weight[i] <= capacity)
            or (value_repair[i] > 0 and data.weight[i] + data.repair_weight[i] <= capacity)
        )
    ]
    choices = np.zeros((len(candidates), capacity + 1), dtype=np.int8)
    for row, i in enumerate(candidates):
        previous = best.copy()
        for option, (value, item_weight) in enumerate(
            ((value_produce[i], data.weight[i]), (value_repair[i], data.weight[i] + data.repair_weight[i])),
            start=1,
        ):
            if value <= 0 or item_weight > capacity:
                continue
            shifted = previous[: capacity + 1 - item_weight] + value
            better = shifted > best[item_weight:]
            best[item_weight:][better] = shifted[better]
            choices[row, item_weight:][better] = option
    produce = np.zeros(data.n, dtype=np.bool_)
    repair = np.zeros(data.n, dtype=np.bool_)
    remaining = capacity
    for row in range(len(candidates) - 1, -1, -1):
        option = choices[row, remaining]
        if option == 0:
            continue
        i = candidates[row]
        produce[i] = True
        remaining -= int(data.weight[i])
        if option == 2:
            repair[i] = True
            remaining -= int(data.repair_weight[i])
    return float(best[capacity]), Reaction(produce, repair)


def reaction_value(data: Data, reaction: Reaction, xi: FloatArray) -> float:
    """Second-stage profit Σ[(f − p̂ξ)y + p̂ξr] of a reaction under scenario ξ."""
    produce = reaction.produce.astype(np.float64)
    repair = reaction.repair.astype(np.float64)
    return float(data.penalty @ produce - (data.degradation * xi) @ (produce - repair))


def second_stage(data: Data, selected: BoolArray, xi: FloatArray) -> tuple[float, Reaction]:
    """The best reaction to scenario ξ given the first-stage selection, and its second-stage profit."""
    loss = data.degradation * xi
    return best_reaction(data, data.penalty - loss, data.penalty, selected)


def first_stage_profit(data: Data, selected: BoolArray) -> float:
    """Σ(p̄ − f)x, the part of the profit fixed by the first stage."""
    return float((data.profit - data.penalty) @ selected.astype(np.float64))


def new_lp() -> highspy.Highs:
    """A silent single-threaded HiGHS instance."""
    lp = highspy.Highs()  # type: ignore[no-untyped-call]
    lp.setOptionValue("output_flag", False)
    lp.setOptionValue("threads", 1)
    return lp


def evaluate(
    data: Data,
    selected: BoolArray,
    known: list[Reaction] | None = None,
    max_iterations: int = 100_000,
    stop: Callable[[], bool] | None = None,
) -> WorstCase:
    """Exact worst-case profit of ``selected`` by Kelley cutting planes over ξ.

    ``known`` reactions (any; those producing unselected items are skipped) seed the cuts. After
    ``max_iterations`` or once ``stop()`` is true the result may not be ``converged``: then only
    ``lower`` is a guaranteed profit.
    """
    n = data.n
    selected = np.asarray(selected, dtype=np.bool_)
    fixed = first_stage_profit(data, selected)
    inf = highspy.kHighsInf
    lp = new_lp()
    # Columns: ξ_0..ξ_{n-1} in [0, 1], z free; minimise z.
    lp.addVars(n, np.zeros(n), np.ones(n))
    lp.addVar(-inf, inf)
    lp.changeColCost(n, 1.0)
    lp.addRow(-inf, data.budget, n, np.arange(n, dtype=np.int32), np.ones(n))
    all_items = np.arange(n + 1, dtype=np.int32)

    def add_cut(reaction: Reaction) -> None:
        # z + Σ p̂ᵢ (yᵢ − rᵢ) ξᵢ ≥ Σ fᵢ yᵢ
        slope = data.degradation * (reaction.produce & ~reaction.repair)
        constant = float(data.penalty @ reaction.produce.astype(np.float64))
        lp.addRow(constant, inf, n + 1, all_items, np.append(slope, 1.0))

    reactions: list[Reaction] = []
    seen: set[bytes] = set()
    for reaction in known or []:
        if not np.any(reaction.produce & ~selected) and reaction.key() not in seen:
            seen.add(reaction.key())
            reactions.append(reaction)
            add_cut(reaction)
    xi = np.zeros(n)
    best_upper, best_reaction_found = second_stage(data, selected, xi)
    best_xi = xi
    lower = -inf
    iterations = 0
    if best_reaction_found.key() not in seen:
        seen.add(best_reaction_found.key())
        reactions.append(best_reaction_found)
        add_cut(best_reaction_found)
    while iterations < max_iterations and not (stop is not None and stop()):
        iterations += 1
        lp.run()
        if lp.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # numerical trouble: from scratch
            lp.clearSolver()
            lp.run()
            if lp.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError(f"evaluation LP ended with status {lp.modelStatusToString(lp.getModelStatus())}")
        values = np.asarray(lp.getSolution().col_value)
        xi = np.clip(values[:n], 0.0, 1.0)
        lower = float(values[n])
        upper, reaction = second_stage(data, selected, xi)
        if upper < best_upper:
            best_upper, best_reaction_found, best_xi = upper, reaction, xi
        if best_upper - lower <= EVALUATION_TOLERANCE * max(1.0, abs(best_upper)) or reaction.key() in seen:
            break
        seen.add(reaction.key())
        reactions.append(reaction)
        add_cut(reaction)
    return WorstCase(
        objective=fixed + best_upper,
        lower=fixed + min(lower, best_upper),
        xi=best_xi,
        reaction=best_reaction_found,
        reactions=reactions,
        iterations=iterations,
    )


def solution_dict(data: Data, selected: BoolArray, worst: WorstCase) -> dict[str, object]:
    """The JSON solution of API.md for a selection and its worst case (plain Python types)."""
    return {
        "selected": [int(v) for v in np.asarray(selected, dtype=np.bool_)],
        "worst_case": {
            "xi": [float(v) for v in worst.xi],
            "produce": [int(v) for v in worst.reaction.produce],
            "repair": [int(v) for v in worst.reaction.repair],
        },
    }
