"""Independent verification of a knapsack_2ro solution, from the solution JSON alone.

It shares no code with the solvers (issue 18): the worst case of the selection x,

    W(x) = Σ(p̄ − f)x + min_{ξ ∈ Ξ} g(ξ),   g(ξ) = max_{(y, r) ∈ Y(x)} Σ [(f − p̂ξ)y + p̂ξr],

is recomputed with its own pieces: g(ξ) by a plain dynamic program over the capacity (each selected item
left out, produced, or produced and repaired; with real weights over the frontier of undominated
(weight, value) pairs, pruned by a fractional-knapsack bound), and the adversary's min over Ξ by stabilised cutting
planes, one HiGHS LP kept across the iterations. Every reaction the dynamic program returns gives a valid cut
g(ξ) ≥ Σfy − Σp̂(y − r)ξ, so the LP value is a lower bound on min g; every g evaluated is an upper bound.
The query point is pulled towards the best ξ seen so far (in-out stabilisation); when that query cuts
nothing off at the LP's own point the next query is the LP point itself, as in plain Kelley, which
either cuts the point off or proves the LP value equals min g. The reported ``worst_case.xi``, once
checked to lie in Ξ, is only the first query point: it can speed the check up, never change its answer.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from solvers.base import Verification
from solvers.knapsack_2ro.schema import Instance

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

CHECKED_BY = "knapsack_2ro.check (own dynamic program + stabilised cutting planes, HiGHS LP)"
#: Largest violation of the reported worst-case block that still counts as feasible.
FEASIBILITY_TOLERANCE = 1e-6
#: Real weights: a reaction fits when its weights add up (in double precision) to at most C + this.
REAL_CAPACITY_SLACK = 1e-7
#: Real weights: a frontier pair is dropped when its upper bound is below the best value by more than this.
FRONTIER_SLACK = 1e-9
#: The cutting planes stop when the best g and the LP value are this close (relative to max(1, |g|)).
CONVERGENCE_TOLERANCE = 1e-9
#: Weight of the best point seen in a stabilised query (0 would be plain Kelley).
STABILISATION = 0.5
#: A cut slack in this many LPs in a row leaves the LP (it returns if a query finds its reaction again).
IDLE_LPS = 5
#: Cuts are dropped only in the first CUT_DROPPING_ITERATIONS · (items + 1) iterations; after that every
#: cut stays, so the loop ends as plain cutting planes do (finitely many reactions).
CUT_DROPPING_ITERATIONS = 10


def _malformed(message: str) -> Verification:
    """The verdict on a solution that cannot be read."""
    return Verification(False, None, 0.0, CHECKED_BY, message)


def _binary_vector(value: Any, n: int, name: str) -> tuple[list[int] | None, str]:
    """A list of n zeros and ones, or None and why not."""
    if not isinstance(value, list) or len(value) != n:
        return None, f"{name} must be a list of {n} zeros and ones"
    out: list[int] = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, int | float) or entry not in (0, 1):
            return None, f"{name} must contain only 0 and 1"
        out.append(int(entry))
    return out, ""


def _worst_case_violation(
    instance: Instance, selected: list[int], worst_case: Any
) -> tuple[float | None, str, FloatArray | None]:
    """How far the reported worst-case block is from a valid scenario and reaction (None: malformed),
    why, and the reported ξ when it is a valid scenario."""
    if not isinstance(worst_case, dict):
        return None, "worst_case must be an object with xi, produce and repair", None
    n = instance.n
    xi = worst_case.get("xi")
    if (
        not isinstance(xi, list)
        or len(xi) != n
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in xi)
    ):
        return None, f"worst_case.xi must be a list of {n} finite numbers", None
    produce, why = _binary_vector(worst_case.get("produce"), n, "worst_case.produce")
    if produce is None:
        return None, why, None
    repair, why = _binary_vector(worst_case.get("repair"), n, "worst_case.repair")
    if repair is None:
        return None, why, None
    used = math.fsum(instance.weight[i] * produce[i] + instance.repair_weight[i] * repair[i] for i in range(n))
    violations = {
        "xi below 0": max([0.0, *(-float(v) for v in xi)]),
        "xi above 1": max([0.0, *(float(v) - 1.0 for v in xi)]),
        "sum of xi above the budget": max(0.0, math.fsum(float(v) for v in xi) - instance.budget),
        "produce without select": float(max([0, *(p - s for p, s in zip(produce, selected, strict=True))])),
        "repair without produce": float(max([0, *(r - p for r, p in zip(repair, produce, strict=True))])),
        "capacity": max(0.0, used - instance.capacity),
    }
    worst_name = max(violations, key=lambda k: violations[k])
    worst = violations[worst_name] + 0.0  # no negative zero
    scenario_ok = all(violations[k] <= FEASIBILITY_TOLERANCE for k in ("xi below 0", "xi above 1"))
    scenario = np.clip(np.asarray(xi, dtype=np.float64), 0.0, 1.0) if scenario_ok else None
    return worst, (f"worst_case violates {worst_name} by {worst:g}" if worst > FEASIBILITY_TOLERANCE else ""), scenario


class _SecondStage:
    """g(ξ) for one selection: the best reaction by a dynamic program over the used capacity (integral
    weights) or over the (weight, value) frontier (real weights)."""

    def __init__(self, instance: Instance, items: list[int]) -> None:
        self.integral = instance.integral
        self.capacity = int(instance.capacity) if self.integral else 0
        self.real_capacity = float(instance.capacity) + REAL_CAPACITY_SLACK
        self.items = items
        self.penalty = np.array([instance.outsource_penalty[i] for i in items], dtype=np.float64)
        self.degradation = np.array([instance.degradation[i] for i in items], dtype=np.float64)
        self.produce_weight = [instance.weight[i] for i in items]
        self.repair_weight = [instance.weight[i] + instance.repair_weight[i] for i in items]
        self.lightest_first = [int(k) for k in np.argsort(self.repair_weight, kind="stable")]
        self.repair_extra = np.subtract(self.repair_weight, self.produce_weight, dtype=np.float64)
        self.table: FloatArray | None = None  # integral weights: the dynamic program's rows, reused
        self.scratch = np.empty(0)

    def best(self, loss: FloatArray, known: float = 0.0) -> tuple[float, BoolArray, BoolArray]:
        """max Σ (f − loss)·[produced only] + f·[repaired] within the capacity; value, produced, repaired.

        ``loss`` is p̂ξ per item of ``items``; row k + 1 of the table holds, per used capacity ≤ w, the best
        value of the first k + 1 usable items (each row a max of shifted copies of the row before). Items
        come lightest first, and a row is filled only up to its reach, the heaviest weight its items can
        use together: beyond it everything fits, so the value stays the one at the reach. Among equally
        good choices the backtrack prefers repairing, then producing: a reaction that repairs more gives a
        cut at least as high everywhere in Ξ.
        """
        if not self.integral:
            return self.best_real(loss, known)
        capacity = self.capacity
        if self.table is None:
            self.table = np.zeros((len(self.items) + 1, capacity + 1))
            self.scratch = np.empty(capacity + 1)
        table, scratch = self.table, self.scratch
        rows: list[tuple[int, list[tuple[int, float, int]]]] = []
        reaches = [0]  # reaches[k]: the reach of table row k
        for position in self.lightest_first:
            options = (
                (2, float(self.penalty[position]), self.repair_weight[position]),
                (1, float(self.penalty[position] - loss[position]), self.produce_weight[position]),
            )
            usable = [(code, gain, int(w)) for code, gain, w in options if gain > 0 and w <= capacity]
            if not usable:
                continue
            reach = reaches[-1]
            width = min(capacity, reach + max(w for _, _, w in usable))
            before, after = table[len(rows)], table[len(rows) + 1]
            np.copyto(after[: reach + 1], before[: reach + 1])
            after[reach + 1 : width + 1] = before[reach]
            for _, gain, w in usable:
                direct = min(width - w, reach)  # sources 0..direct are in the row before's reach
                shifted = scratch[: direct + 1]
                np.add(before[: direct + 1], gain, out=shifted)
                np.maximum(after[w : w + direct + 1], shifted, out=after[w : w + direct + 1])
                if width - w > reach:  # sources beyond it hold the value at the reach
                    np.maximum(
                        after[w + reach + 1 : width + 1], before[reach] + gain, out=after[w + reach + 1 : width + 1]
                    )
            rows.append((position, usable))
            reaches.append(width)
        produced = np.zeros(len(self.items), dtype=np.bool_)
        repaired = np.zeros(len(self.items), dtype=np.bool_)
        room = capacity
        for row in range(len(rows) - 1, -1, -1):
            position, usable = rows[row]
            reached = table[row + 1, min(room, reaches[row + 1])]
            for code, gain, w in usable:  # repairing first
                if w <= room and table[row, min(room - w, reaches[row])] + gain == reached:
                    produced[position] = True
                    repaired[position] = code == 2
                    room -= w
                    break
        return float(table[len(rows), min(capacity, reaches[-1])]), produced, repaired

    def best_real(self, loss: FloatArray, known: float) -> tuple[float, BoolArray, BoolArray]:
        """The same maximum for real weights: a frontier of (used weight, value) pairs, grown item by item.

        A pair survives if no pair of at most its weight has at least its value, and if its value plus an
        upper bound on what the items still to come can add in the room left reaches the best value known.
        The bound: an item whose options have gains g at weights w adds at most min(G, r·w') with room w'
        (G its largest usable gain, r its largest gain per weight), a fractional knapsack of the items
        (G/r, G). The best value known comes from pairs completed by the items to come of finite r, taken
        whole (their largest-gain option) in order of r while they fit, or ``known``, the value of a
        reaction the caller already has (the best of the cuts found so far, at this ξ), if higher.

        The frontier keeps one pair per value, the lightest, so where ξ_i = 0 (producing and repairing gain
        the same) it produces. The reaction found is then made to repair such items while the room left
        allows, most degradation protected per extra weight first: the value stays, and the cut is at
        least as high everywhere in Ξ (as the integral backtrack prefers repairing).
        """
        limit = self.real_capacity
        count = len(self.items)
        gains = np.stack([self.penalty - loss, self.penalty])  # row 0: produce only, row 1: repair too
        weights = np.array([self.produce_weight, self.repair_weight], dtype=np.float64).reshape(2, count)
        usable = (gains > 0) & (weights <= limit)
        per_weight = np.where(usable, gains / np.maximum(weights, 1e-300), -np.inf)
        per_weight = np.where(usable & (weights == 0), np.inf, per_weight)
        top_rate = per_weight.max(axis=0)
        top_gain = np.where(usable, gains, 0.0).max(axis=0)
        top_option = np.where(usable, gains, -np.inf).argmax(axis=0)
        top_weight = weights[top_option, np.arange(count)]
        order = [int(k) for k in np.argsort(-top_rate, kind="stable") if usable[:, k].any()]
        frontier_w, frontier_v = np.zeros(1), np.zeros(1)
        trail: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.int8]]] = []
        best_known = max(0.0, known)
        for depth, k in enumerate(order):
            rest = order[depth + 1 :]
            pieces_w, pieces_v = [frontier_w], [frontier_v]
            pieces_from, pieces_code = [np.arange(frontier_w.size)], [np.zeros(frontier_w.size, dtype=np.int8)]
            for code in (1, 2):
                if usable[code - 1, k]:
                    room_ok = np.flatnonzero(frontier_w + weights[code - 1, k] <= limit)
                    pieces_w.append(frontier_w[room_ok] + weights[code - 1, k])
                    pieces_v.append(frontier_v[room_ok] + gains[code - 1, k])
                    pieces_from.append(room_ok)
                    pieces_code.append(np.full(room_ok.size, code, dtype=np.int8))
            all_w, all_v = np.concatenate(pieces_w), np.concatenate(pieces_v)
            by_weight = np.lexsort((-all_v, all_w))
            running = np.maximum.accumulate(all_v[by_weight])
            undominated = by_weight[np.concatenate([[True], all_v[by_weight][1:] > running[:-1]])]
            room = limit - all_w[undominated]
            value = all_v[undominated]
            if rest:
                free = [j for j in rest if top_rate[j] == np.inf]
                paid = [j for j in rest if top_rate[j] != np.inf]
                extra = float(top_gain[free].sum()) if free else 0.0
                relaxed_w = np.concatenate([[0.0], np.cumsum(top_gain[paid] / top_rate[paid])])
                whole_w = np.concatenate([[0.0], np.cumsum(top_weight[paid])])
                cumulative_gain = np.concatenate([[0.0], np.cumsum(top_gain[paid])])
                whole = cumulative_gain[np.searchsorted(whole_w, room, side="right") - 1]
                best_known = max(best_known, float((value + whole).max()))
                ceiling = value + extra + np.interp(room, relaxed_w, cumulative_gain)
                hopeful = ceiling >= best_known - FRONTIER_SLACK * max(1.0, abs(best_known))
                undominated = undominated[hopeful]
            best_known = max(best_known, float(all_v[undominated].max()))
            frontier_w, frontier_v = all_w[undominated], all_v[undominated]
            trail.append((np.concatenate(pieces_from)[undominated], np.concatenate(pieces_code)[undominated]))
        produced = np.zeros(count, dtype=np.bool_)
        repaired = np.zeros(count, dtype=np.bool_)
        at = int(np.argmax(frontier_v))
        for depth in range(len(order) - 1, -1, -1):
            came_from, codes = trail[depth]
            produced[order[depth]] = codes[at] > 0
            repaired[order[depth]] = codes[at] == 2
            at = int(came_from[at])
        self._repair_where_free(
            loss, produced, repaired, limit - float(weights[0] @ produced + (weights[1] - weights[0]) @ repaired)
        )
        return float(frontier_v.max()), produced, repaired

    def _repair_where_free(self, loss: FloatArray, produced: BoolArray, repaired: BoolArray, room: float) -> None:
        """Repair produced items that lose nothing (loss 0) while ``room`` allows, best p̂ per extra weight first."""
        extra = self.repair_extra
        free = np.flatnonzero(produced & ~repaired & (loss <= 0.0) & (self.degradation > 0.0))
        for k in free[np.argsort(-self.degradation[free] / np.maximum(extra[free], 1e-300), kind="stable")]:
            if extra[k] <= room:
                repaired[k] = True
                room -= float(extra[k])


class _CutLp:
    """min z over (ξ, z), 0 ≤ ξ ≤ 1, Σξ ≤ Γ, and one row z + slope·ξ ≥ constant per active cut: one HiGHS
    model kept across the iterations (cuts added and deleted), each solve starting from the last basis."""

    def __init__(self, m: int, budget: float) -> None:
        import highspy  # loaded when a solution is checked, not when the kind is imported

        self.m = m
        self.lp: Any = highspy.Highs()  # type: ignore[no-untyped-call]
        self.optimal = highspy.HighsModelStatus.kOptimal
        self.inf = highspy.kHighsInf
        self.lp.setOptionValue("output_flag", False)
        self.lp.setOptionValue("threads", 1)
        self.lp.setOptionValue("presolve", "off")
        self.lp.addVars(m, np.zeros(m), np.ones(m))
        self.lp.addVar(-self.inf, self.inf)
        self.lp.changeColCost(m, 1.0)
        self.lp.addRow(-self.inf, budget, m, np.arange(m, dtype=np.int32), np.ones(m))
        self.columns = np.arange(m + 1, dtype=np.int32)

    def add(self, constant: float, slope: FloatArray) -> None:
        """A cut as the last row."""
        self.lp.addRow(constant, self.inf, self.m + 1, self.columns, np.append(slope, 1.0))

    def delete(self, cuts: list[int]) -> None:
        """Delete cuts by their position among the cut rows (the others keep their order)."""
        self.lp.deleteRows(len(cuts), np.array(cuts, dtype=np.int32) + 1)

    def solve(self) -> tuple[FloatArray, float, FloatArray]:
        """ξ, z and the activity z + slope·ξ of every cut row, in order."""
        self.lp.run()
        if self.lp.getModelStatus() != self.optimal:  # numerical trouble from the warm start: from scratch
            self.lp.clearSolver()
            self.lp.run()
        status = self.lp.getModelStatus()
        if status != self.optimal:
            raise RuntimeError(f"the adversary's LP ended with status {self.lp.modelStatusToString(status)}")
        solution = self.lp.getSolution()
        values = np.asarray(solution.col_value)
        return values[: self.m], float(values[self.m]), np.asarray(solution.row_value)[1:]


def worst_case_value(instance: Instance, selected: list[int], first_query: FloatArray | None = None) -> float:
    """The exact worst-case profit W(x) of a selection (first_query: a ξ in Ξ to try first)."""
    items = [i for i in range(instance.n) if selected[i]]
    fixed = math.fsum(instance.profit[i] - instance.outsource_penalty[i] for i in items)
    if not items:
        return fixed
    stage = _SecondStage(instance, items)
    degradation = stage.degradation
    m = len(items)
    budget = min(instance.budget, float(m))
    constants: list[float] = []  # the pool: one cut per reaction found
    slopes: list[FloatArray] = []
    pool: dict[bytes, int] = {}
    active: list[int] = []  # the cuts in the LP, in the order of its rows
    lp = _CutLp(m, budget)
    idle: dict[int, int] = {}  # LPs in a row where an active cut was slack

    def inside(xi: FloatArray) -> FloatArray:
        """ξ clipped to [0, 1] and scaled onto the budget if above it (every g evaluated is at a point of Ξ)."""
        xi = np.clip(xi, 0.0, 1.0)
        total = float(xi.sum())
        return xi * (budget / total) if total > budget else xi

    def query(xi: FloatArray) -> tuple[float, int]:
        """g(ξ), and the pool index of its reaction's cut, which is made active."""
        # real weights: the best reaction found so far, valued at this ξ, lets the frontier prune from the start
        known = (
            0.0
            if stage.integral
            else max((c - float(s @ xi) for c, s in zip(constants, slopes, strict=True)), default=0.0)
        )
        value, produced, repaired = stage.best(degradation * xi, known)
        key = produced.tobytes() + repaired.tobytes()
        if key not in pool:
            pool[key] = len(constants)
            constants.append(float(stage.penalty @ produced))
            slopes.append(degradation * (produced & ~repaired))
        index = pool[key]
        if index not in idle:
            active.append(index)
            idle[index] = 0
            lp.add(constants[index], slopes[index])
        return value, index

    center = np.zeros(m)
    upper, _ = query(center)
    if first_query is not None:
        value, _ = query(inside(first_query[items]))
        if value < upper:
            upper, center = value, inside(first_query[items])
    weight = STABILISATION
    for iteration in itertools.count():
        lp_point, lower, activity = lp.solve()
        lp_xi = inside(lp_point)  # any set of cuts bounds min g from below
        tolerance = CONVERGENCE_TOLERANCE * max(1.0, abs(upper))
        if upper - lower <= tolerance:
            break
        if iteration < CUT_DROPPING_ITERATIONS * (m + 1) and len(active) > m + 1:
            slack = activity - np.array([constants[k] for k in active])
            dropped: list[int] = []
            for position, (k, is_slack) in enumerate(zip(active, slack > tolerance, strict=True)):
                idle[k] = idle[k] + 1 if is_slack else 0
                if idle[k] > IDLE_LPS:
                    dropped.append(position)
                    del idle[k]
            if dropped:
                lp.delete(dropped)
                active[:] = [k for position, k in enumerate(active) if position not in dropped]
        xi = weight * center + (1 - weight) * lp_xi
        value, index = query(xi)
        if value < upper:
            upper, center = value, xi
        if constants[index] - float(slopes[index] @ lp_xi) <= lower + tolerance:  # the LP point is not cut off
            if weight == 0.0:
                break  # g at the LP point is within the tolerance of the LP value, so is the best g
            weight = 0.0  # mis-priced: query the LP point itself next
        else:
            weight = STABILISATION
    return fixed + upper


def check(instance: Instance, solution: Any) -> Verification:
    """Recompute the exact worst-case profit of ``solution["selected"]``; never raises on malformed input."""
    try:
        if not isinstance(solution, dict):
            return _malformed("solution must be an object")
        selected, why = _binary_vector(solution.get("selected"), instance.n, "selected")
        if selected is None:
            return _malformed(why)
        unknown = sorted(set(solution) - {"selected", "worst_case"})
        if unknown:
            return _malformed(f"unknown solution fields: {unknown}")
        violation, message, reported_xi = 0.0, "", None
        if solution.get("worst_case") is not None:
            reported, message, reported_xi = _worst_case_violation(instance, selected, solution["worst_case"])
            if reported is None:
                return _malformed(message)
            violation = reported
        objective = worst_case_value(instance, selected, reported_xi)
        return Verification(
            feasible=violation <= FEASIBILITY_TOLERANCE,
            objective=objective,
            max_violation=violation,
            checked_by=CHECKED_BY,
            message=message or "exact worst case recomputed",
        )
    except Exception as exc:  # a checker must answer, whatever it is given
        return _malformed(f"could not check the solution: {exc}")
