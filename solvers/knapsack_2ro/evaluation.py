"""Exact second-stage solver and exact worst-case evaluation of a first-stage selection.

These functions are shared by every solver; ``check`` has its own implementation (issue 18).

* :func:`best_reaction` solves the second stage for item values: each item is left out, produced
  (weight c, value v₁) or produced and repaired (weight c + t, value v₂) — a multiple-choice
  knapsack solved by dynamic programming over the capacity, O(n·C), when the weights are integral,
  and otherwise over the Pareto front of (weight, value) pairs (exact for real weights).
* :func:`evaluate` computes min_ξ max_{(y,r) ∈ Y(x)} of the second-stage profit by Kelley's cutting
  planes over ξ: an LP over (ξ, z) with one cut per reaction found so far, and the dynamic program
  at the LP's ξ to find the next reaction, until the LP value and the best reaction meet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from solvers.knapsack_2ro.schema import Instance

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Relative tolerance at which the cutting planes of :func:`evaluate` are considered to meet.
EVALUATION_TOLERANCE = 1e-9
#: With real weights a reaction fits when its weights sum (in double precision) to at most C + this.
CAPACITY_TOLERANCE = 1e-7
#: A Pareto state is dropped when its bound is below the best known value by more than this (relative).
PARETO_BOUND_TOLERANCE = 1e-9
#: Cells of the scaled capacity of the rounded programs that bound the Pareto program (real weights).
ROUNDED_CELLS = 32768
#: Margin (in cells) by which scaled weights are rounded, so that rounding errors keep each bound valid.
ROUNDING_MARGIN = 1e-7


@dataclass(frozen=True)
class Data:
    """An instance as numpy arrays (weights as floats; ``integral`` says whether they are all integers)."""

    capacity: float
    budget: float
    profit: FloatArray
    degradation: FloatArray
    weight: FloatArray
    repair_weight: FloatArray
    penalty: FloatArray
    integral: bool = True

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
            weight=np.asarray(instance.weight, dtype=np.float64),
            repair_weight=np.asarray(instance.repair_weight, dtype=np.float64),
            penalty=np.asarray(instance.outsource_penalty, dtype=np.float64),
            integral=instance.integral,
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
    capacity = data.capacity + (0.0 if data.integral else CAPACITY_TOLERANCE)
    candidates = [
        i
        for i in range(data.n)
        if allowed[i]
        and (
            (value_produce[i] > 0 and data.weight[i] <= capacity)
            or (value_repair[i] > 0 and data.weight[i] + data.repair_weight[i] <= capacity)
        )
    ]
    options = [
        ((value_produce[i], data.weight[i]), (value_repair[i], data.weight[i] + data.repair_weight[i]))
        for i in candidates
    ]
    if data.integral:
        value, chosen = _capacity_program(int(data.capacity), options)
    else:
        value, chosen = _pareto_program(capacity, options)
    produce = np.zeros(data.n, dtype=np.bool_)
    repair = np.zeros(data.n, dtype=np.bool_)
    for i, option in zip(candidates, chosen, strict=True):
        produce[i] = option > 0
        repair[i] = option == 2
    return value, Reaction(produce, repair)


ItemOptions = tuple[tuple[float, float], tuple[float, float]]
"""(value, weight) of producing an item, then of producing and repairing it."""


def _capacity_program(capacity: int, items: list[ItemOptions]) -> tuple[float, list[int]]:
    """Multiple-choice knapsack over an integral capacity (integral weights): value and option per item.

    Row k + 1 of the table is the best value per used capacity of the first k + 1 items: the max of the
    row before and its copies shifted by each option (no masked writes, issue 19). The backtrack takes,
    as the option-by-option strict improvement would, the last option that strictly improves.
    """
    table = np.empty((len(items) + 1, capacity + 1))
    table[0] = 0.0
    scratch = np.empty(capacity + 1)
    usable: list[list[tuple[float, int]]] = []
    for row, item_options in enumerate(items):
        before, after = table[row], table[row + 1]
        np.copyto(after, before)
        options = [(float(value), int(weight)) for value, weight in item_options]
        usable.append(options)
        for value, item_weight in options:
            if value <= 0 or item_weight > capacity:
                continue
            shifted = scratch[: capacity + 1 - item_weight]
            np.add(before[: capacity + 1 - item_weight], value, out=shifted)
            np.maximum(after[item_weight:], shifted, out=after[item_weight:])
    chosen = [0] * len(items)
    remaining = capacity
    for row in range(len(items) - 1, -1, -1):
        best, option = float(table[row, remaining]), 0
        for code, (value, item_weight) in enumerate(usable[row], start=1):
            if value > 0 and item_weight <= remaining and table[row, remaining - item_weight] + value > best:
                best, option = float(table[row, remaining - item_weight] + value), code
        chosen[row] = option
        if option:
            remaining -= usable[row][option - 1][1]
    return float(table[len(items), capacity]), chosen


def _hull_segments(capacity: float, item_options: ItemOptions) -> list[tuple[float, float]]:
    """(weight, value) steps of the concave hull of an item's useful options from (0, 0), best ratio first."""
    points = [(weight, value) for value, weight in item_options if value > 0 and weight <= capacity]
    if len(points) == 2 and points[1][1] <= points[0][1]:
        points = points[:1]  # repairing costs weight and adds nothing
    if len(points) == 2:
        (w1, v1), (w2, v2) = points
        if w1 > 0 and (v2 - v1) * w1 >= v1 * (w2 - w1):  # the repair step is at least as efficient: one step
            points = points[1:]
    segments, previous = [], (0.0, 0.0)
    for weight, value in points:
        segments.append((weight - previous[0], value - previous[1]))
        previous = (weight, value)
    return segments


def _rounded_programs(capacity: float, ordered: list[ItemOptions]) -> tuple[FloatArray, float, float]:
    """Two capacity programs on weights scaled to :data:`ROUNDED_CELLS` cells, for the Pareto program.

    * Weights rounded **down**: every set that fits still fits, so ``completion[k, c]``, the best value of
      items k.. within c cells, bounds what those items can add in the room of c cells (or more).
    * Weights rounded **up**: a set that fits in the rounded capacity fits for real, so the best value is
      a feasible value (a lower bound to prune with).

    Returns the completion table (rows 0..len(ordered), non-decreasing in c), the scale (cells per unit
    of weight) and the feasible value.
    """
    scale = ROUNDED_CELLS / capacity if capacity > 0 else 0.0
    cells = math.floor(capacity * scale + ROUNDING_MARGIN)
    completion = np.zeros((len(ordered) + 1, cells + 1))
    feasible = np.zeros(cells + 1)
    scratch = np.empty(cells + 1)
    for row in range(len(ordered) - 1, -1, -1):
        after, before = completion[row + 1], completion[row]
        np.copyto(before, after)
        previous_feasible = feasible.copy()
        for value, weight in ordered[row]:
            if value <= 0:
                continue
            down = max(0, math.floor(weight * scale - ROUNDING_MARGIN))
            if down <= cells:
                shifted = scratch[: cells + 1 - down]
                np.add(after[: cells + 1 - down], value, out=shifted)
                np.maximum(before[down:], shifted, out=before[down:])
            up = math.ceil(weight * scale + ROUNDING_MARGIN)
            if up <= cells:
                np.maximum(feasible[up:], previous_feasible[: cells + 1 - up] + value, out=feasible[up:])
    return completion, scale, float(feasible[cells])


def _pareto_program(capacity: float, items: list[ItemOptions]) -> tuple[float, list[int]]:
    """Multiple-choice knapsack with real weights: the Pareto front of (weight, value) states, item by item.

    A state is kept only if no state of at most its weight has at least its value, so the front is
    sorted by weight with strictly increasing values and its last state is the best. A state is also
    dropped when its value plus a bound on what the items still to come can add in the room left is
    below a known solution's value. The bound is the smaller of two: the LP bound (the concave hulls of
    their options, filled greedily) and the program with weights rounded down (:func:`_rounded_programs`,
    which also gives the program with weights rounded up as a known solution). Exact: only dominated,
    overweight or hopeless states are dropped.
    """
    # items by their best ratio, so that good states come early and the bound bites
    hulls = [_hull_segments(capacity, options) for options in items]
    ratio = [max((v / w if w > 0 else np.inf) for w, v in hull) if hull else 0.0 for hull in hulls]
    order = sorted(range(len(items)), key=lambda k: -ratio[k])
    position = {item: row for row, item in enumerate(order)}
    steps = [(w, v, position[k]) for k, hull in enumerate(hulls) for w, v in hull]
    steps.sort(key=lambda step: -(step[1] / step[0]) if step[0] > 0 else -np.inf)
    step_weight = np.array([w for w, _, _ in steps])
    step_value = np.array([v for _, v, _ in steps])
    step_row = np.array([row for _, _, row in steps], dtype=np.int64)
    completion, scale, rounded_up_value = _rounded_programs(capacity, [items[item] for item in order])
    lower = max(_greedy_value(capacity, step_weight, step_value, step_row), rounded_up_value)
    weights = np.zeros(1)
    values = np.zeros(1)
    history: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]] = []
    for row, item in enumerate(order):
        new_weights, new_values = [weights], [values]
        parents = [np.arange(weights.size)]
        codes = [np.zeros(weights.size, dtype=np.int8)]
        for option, (value, item_weight) in enumerate(items[item], start=1):
            if value <= 0:
                continue
            fits = weights + item_weight <= capacity
            new_weights.append(weights[fits] + item_weight)
            new_values.append(values[fits] + value)
            parents.append(np.flatnonzero(fits))
            codes.append(np.full(int(fits.sum()), option, dtype=np.int8))
        all_weights = np.concatenate(new_weights)
        all_values = np.concatenate(new_values)
        sorting = np.lexsort((-all_values, all_weights))
        sorted_values = all_values[sorting]
        best_before = np.maximum.accumulate(np.concatenate([[-np.inf], sorted_values[:-1]]))
        kept = sorting[sorted_values > best_before]
        lower = max(lower, float(all_values[kept[-1]]))
        later = step_row > row
        if later.any():
            zero = later & (step_weight == 0)
            positive = later & (step_weight > 0)
            room = np.concatenate([[0.0], np.cumsum(step_weight[positive])])
            gain = np.concatenate([[0.0], np.cumsum(step_value[positive])])
            left = capacity - all_weights[kept]
            base = all_values[kept] + float(step_value[zero].sum())
            # completing a state with the later steps in ratio order while they fit is a solution
            lower = max(lower, float((base + gain[np.searchsorted(room, left, side="right") - 1]).max()))
            left_cells = np.floor(np.maximum(left, 0.0) * scale + ROUNDING_MARGIN).astype(np.int64)
            rounded_bound = all_values[kept] + completion[row + 1][np.minimum(left_cells, completion.shape[1] - 1)]
            bound = np.minimum(base + np.interp(left, room, gain), rounded_bound)
            kept = kept[bound >= lower - PARETO_BOUND_TOLERANCE * max(1.0, abs(lower))]
        weights, values = all_weights[kept], all_values[kept]
        history.append((np.concatenate(parents)[kept], np.concatenate(codes)[kept]))
    chosen = [0] * len(items)
    state = int(np.argmax(values))
    for row in range(len(order) - 1, -1, -1):
        parents_of_row, codes_of_row = history[row]
        chosen[order[row]] = int(codes_of_row[state])
        state = int(parents_of_row[state])
    return float(values.max()), chosen


def _greedy_value(capacity: float, weight: FloatArray, value: FloatArray, owner: npt.NDArray[np.int64]) -> float:
    """Value of a feasible choice: hull steps taken in ratio order while they fit (an item's second step
    only after its first)."""
    room, total, skipped = capacity, 0.0, set()
    for w, v, item in zip(weight.tolist(), value.tolist(), owner.tolist(), strict=True):
        if item in skipped:
            continue
        if w <= room:
            room -= w
            total += v
        else:
            skipped.add(item)
    return total


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


def repaired_selection(data: Data) -> tuple[BoolArray, WorstCase]:
    """A selection whose exact worst case needs no cutting planes: items that fit produced and repaired.

    An item earns at most f in the second stage ((f − p̂ξ)y + p̂ξr ≤ fy), and exactly f when it is
    produced and repaired, whatever ξ. So if the selection S can all be produced and repaired within the
    capacity, its worst case is Σ_S p̄, for every scenario. The best such S is one knapsack of values p̄
    at weights c + t (one dynamic program): the fallback of a solver out of time before it certified
    anything better.
    """
    never = np.zeros(data.n)
    _, reaction = best_reaction(data, never, data.profit, data.penalty > 0)
    selected = reaction.produce.copy()
    objective = first_stage_profit(data, selected) + float(data.penalty @ selected.astype(np.float64))
    worst = WorstCase(
        objective=objective,
        lower=objective,
        xi=np.zeros(data.n),
        reaction=reaction,
        reactions=[reaction],
        iterations=0,
    )
    return selected, worst


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
