"""Branch-and-price on the Dantzig–Wolfe reformulation (Arslan & Detienne, 2022).

By the minimax theorem, min_ξ max_{(y,r) ∈ Y(x)} equals max over conv Y(x) of min_ξ; dualising the
budget polytope {0 ≤ ξ ≤ 1, Σξ ≤ Γ} makes the problem one LP over reactions k (columns λ_k):

    max  Σ(p̄ᵢ − fᵢ)xᵢ + Σ_k λ_k Σᵢ fᵢ y_kᵢ − Γπ − Σᵢ ρᵢ
    s.t. ρᵢ + π − Σ_k λ_k p̂ᵢ (y_kᵢ − r_kᵢ) ≥ 0     (dual of ξᵢ)
         Σ_k λ_k y_kᵢ − xᵢ ≤ 0                     (produce only what was selected)
         Σ_k λ_k = 1,  λ, π, ρ ≥ 0,  x ∈ {0, 1}ⁿ.

With x integral its value is exactly the worst-case profit of x. Column generation prices a
multiple-choice knapsack (a dynamic program), each node's LP bound is valid from the first iteration
through the Lagrangian bound (RMP value + best reduced cost, as Σλ = 1), and branching fixes xᵢ.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import highspy
import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.knapsack_2ro.evaluation import (
    BoolArray,
    Data,
    FloatArray,
    Reaction,
    WorstCase,
    best_reaction,
    evaluate,
    new_lp,
    repaired_selection,
    solution_dict,
)
from solvers.knapsack_2ro.nominal import nominal_selection
from solvers.knapsack_2ro.options import ExactOptions
from solvers.knapsack_2ro.schema import Instance
from solvers.runtime import Deadline

#: A column prices out when its reduced cost is at most this, relative to max(1, |RMP value|).
PRICING_TOLERANCE = 1e-9
#: Smallest relative pruning tolerance, whatever ``rel_gap`` says (floating-point floor).
MIN_PRUNE_TOLERANCE = 1e-9
#: When the master has more than this many reaction columns per item, the worst half (by reduced
#: cost) is deleted (measured at n = 20: 20 per item took 8.5 s of CPU where keeping all took 16.7 s).
MAX_COLUMNS_PER_ITEM = 20
#: An LP value within this of 0 or 1 counts as integral.
INTEGRALITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MasterSolution:
    """What a restricted master LP solve gives: value, x and its reduced costs, row duals."""

    value: float
    x: FloatArray
    x_reduced_costs: FloatArray
    xi_duals: FloatArray
    link_duals: FloatArray
    convexity_dual: float


class DantzigWolfeMaster:
    """The restricted master LP; columns are kept across nodes, branching only changes x's bounds."""

    def __init__(self, data: Data) -> None:
        self.data = data
        n = data.n
        inf = highspy.kHighsInf
        self.lp = new_lp()
        self.lp.setOptionValue("presolve", "off")  # re-solves start from the previous basis
        self.lp.changeObjectiveSense(highspy.ObjSense.kMaximize)
        # Columns 0..n-1: x; n: π; n+1..2n: ρ.
        self.lp.addVars(n, np.zeros(n), np.ones(n))
        self.lp.addVar(0.0, inf)
        self.lp.addVars(n, np.zeros(n), np.full(n, inf))
        costs = np.concatenate([data.profit - data.penalty, [-data.budget], -np.ones(n)])
        self.lp.changeColsCost(2 * n + 1, np.arange(2 * n + 1, dtype=np.int32), costs)
        for i in range(n):  # rows 0..n-1: ρᵢ + π − Σλ p̂(y − r) ≥ 0
            self.lp.addRow(0.0, inf, 2, np.array([n, n + 1 + i], dtype=np.int32), np.ones(2))
        for i in range(n):  # rows n..2n-1: Σλ y − xᵢ ≤ 0
            self.lp.addRow(-inf, 0.0, 1, np.array([i], dtype=np.int32), np.array([-1.0]))
        self.lp.addRow(1.0, 1.0, 0, np.array([], dtype=np.int32), np.array([]))  # row 2n: Σλ = 1
        self.keys: set[bytes] = set()
        self.column_keys: list[bytes] = []  # key of LP column 2n + 1 + j
        self.purged = 0
        self.restarts = 0
        self.add_column(Reaction(np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)))

    @property
    def columns(self) -> int:
        """Number of reaction columns."""
        return len(self.keys)

    def purge(self, keep: int) -> None:
        """Delete nonbasic reaction columns of most negative reduced cost until ``keep`` remain.

        The empty reaction (column 0, which keeps every node feasible) stays; pricing brings back
        any deleted column a later node needs.
        """
        first = 2 * self.data.n + 1
        excess = len(self.column_keys) - keep
        if excess <= 0:
            return
        reduced = np.asarray(self.lp.getSolution().col_dual)[first:]
        basic = np.array(
            [status == highspy.HighsBasisStatus.kBasic for status in self.lp.getBasis().col_status[first:]]
        )
        candidates = np.flatnonzero(~basic)
        candidates = candidates[candidates > 0]
        doomed = candidates[np.argsort(reduced[candidates])[:excess]]
        if doomed.size == 0:
            return
        self.lp.deleteCols(doomed.size, np.sort(doomed + first).astype(np.int32))
        doomed_set = set(doomed.tolist())
        for j in doomed_set:
            self.keys.discard(self.column_keys[j])
        self.column_keys = [key for j, key in enumerate(self.column_keys) if j not in doomed_set]
        self.purged += doomed.size

    def add_column(self, reaction: Reaction) -> bool:
        """Add a reaction as a column; False if it is already there."""
        key = reaction.key()
        if key in self.keys:
            return False
        self.keys.add(key)
        self.column_keys.append(key)
        n = self.data.n
        unrepaired = np.flatnonzero(reaction.produce & ~reaction.repair)
        produced = np.flatnonzero(reaction.produce)
        rows = np.concatenate([unrepaired, n + produced, [2 * n]]).astype(np.int32)
        values = np.concatenate([-self.data.degradation[unrepaired], np.ones(produced.size), [1.0]])
        cost = float(self.data.penalty[produced].sum())
        self.lp.addCol(cost, 0.0, highspy.kHighsInf, rows.size, rows, values)
        return True

    def set_fixings(self, lower: FloatArray, upper: FloatArray) -> None:
        """Bounds of x at a node."""
        n = self.data.n
        self.lp.changeColsBounds(n, np.arange(n, dtype=np.int32), lower, upper)

    def solve(self) -> MasterSolution:
        """Solve the restricted master LP."""
        self.lp.run()
        status = self.lp.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # Numerical trouble from a warm start (seen once in 504 instances): solve again from scratch.
            self.restarts += 1
            self.lp.clearSolver()
            self.lp.run()
            status = self.lp.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"master LP ended with status {self.lp.modelStatusToString(status)}")
        n = self.data.n
        solution = self.lp.getSolution()
        duals = np.asarray(solution.row_dual)
        return MasterSolution(
            value=self.lp.getObjectiveValue(),
            x=np.asarray(solution.col_value)[:n],
            x_reduced_costs=np.asarray(solution.col_dual)[:n],
            xi_duals=duals[:n],
            link_duals=duals[n : 2 * n],
            convexity_dual=float(duals[2 * n]),
        )

    def price(self, solved: MasterSolution, allowed: BoolArray) -> tuple[float, Reaction]:
        """The reaction of largest reduced cost, and that reduced cost.

        Reduced cost of (y, r): Σᵢ yᵢ(fᵢ − linkᵢ) + Σᵢ p̂ᵢ ξdualᵢ (yᵢ − rᵢ) − convexity dual.
        """
        value_repair = self.data.penalty - solved.link_duals
        value_produce = value_repair + self.data.degradation * solved.xi_duals
        best, reaction = best_reaction(self.data, value_produce, value_repair, allowed)
        return best - solved.convexity_dual, reaction


@dataclass(order=True)
class Node:
    """A branch-and-bound node: x's bounds and the bound inherited from its parent."""

    priority: tuple[float, int, int]
    lower: FloatArray
    upper: FloatArray
    bound: float
    depth: int

    @staticmethod
    def of(lower: FloatArray, upper: FloatArray, bound: float, depth: int, counter: Iterator[int]) -> Node:
        """A node ordered by best bound, then depth (deeper first), then creation."""
        return Node((-bound, -depth, next(counter)), lower, upper, bound, depth)


class BranchAndPriceSolver:
    """Exact solver: branch-and-price with the Lagrangian bound, proven upper bound at any time."""

    name = "exact"
    Options = ExactOptions

    def solve(self, instance: Instance, options: ExactOptions, progress: Progress, cancel: Cancel) -> Result:
        """Maximise the worst-case profit; returns the best selection and the proven bound."""
        return branch_and_price(Data.of(instance), options, progress, Deadline(options.time_limit_s, cancel))


def branch_and_price(
    data: Data,
    options: ExactOptions,
    progress: Progress,
    deadline: Deadline,
    known: Iterable[tuple[BoolArray, WorstCase]] = (),
) -> Result:
    """Branch-and-price until ``deadline``, starting from selections whose exact worst case is ``known``.

    The known selections are not evaluated again: the best is the first incumbent (not reported to
    ``progress``, whoever evaluated it did) and their worst-case reactions are the first columns. The
    repaired selection (:func:`repaired_selection`, exact without cutting planes) is always a candidate.
    """
    return _BranchAndPrice(data, options, progress, deadline).run(known)


class _BranchAndPrice:
    """One run of branch-and-price (state kept on the object to keep the loop readable)."""

    def __init__(self, data: Data, options: ExactOptions, progress: Progress, deadline: Deadline) -> None:
        self.data = data
        self.options = options
        self.progress = progress
        self.deadline = deadline
        self.master = DantzigWolfeMaster(data)
        self.best: tuple[BoolArray, WorstCase] | None = None
        self.evaluated: set[bytes] = set()
        self.open: list[Node] = []
        self.counter = itertools.count()
        self.reported_bound = float("inf")
        self.pruned_bound = -float("inf")
        self.nodes = 0
        self.lp_solves = 0
        self.evaluations = 0
        self.fixed_by_reduced_cost = 0
        # Branch where the relaxation dodges most first-stage cost: a fractional xᵢ pays only xᵢ(fᵢ − p̄ᵢ).
        self.branching_weight = np.maximum(data.penalty - data.profit, 0.0) + 1e-6
        self.last_log = 0.0

    @property
    def incumbent(self) -> float:
        """Objective of the best selection found (−inf before the first)."""
        return self.best[1].objective if self.best is not None else -float("inf")

    def prune_tolerance(self) -> float:
        """Absolute tolerance under which a node cannot improve the incumbent enough."""
        return max(self.options.rel_gap, MIN_PRUNE_TOLERANCE) * max(1.0, abs(self.incumbent))

    def trivial_bound(self) -> float:
        """A finite upper bound before any LP: the optimum with no degradation (ξ = 0 is in Ξ).

        For any x, its value at ξ = 0 is Σ_{produced} p̄ + Σ_{selected, not produced} (p̄ − f)
        ≤ Σ_{produced} min(p̄, f) + Σ max(0, p̄ − f): the knapsack of min(p̄, f) plus Σ max(0, p̄ − f).
        """
        data = self.data
        everything = np.ones(data.n, dtype=np.bool_)
        value = np.minimum(data.profit, data.penalty)
        no_degradation, _ = best_reaction(data, value, value, everything)
        return no_degradation + float(np.maximum(data.profit - data.penalty, 0.0).sum())

    def try_selection(self, selected: BoolArray, stoppable: bool = True) -> None:
        """Evaluate a selection exactly (once) and keep it if it improves the incumbent.

        An evaluation interrupted by the time limit or cancel is discarded (its value is not exact).
        """
        key = selected.tobytes()
        if key in self.evaluated:
            return
        self.evaluated.add(key)
        self.evaluations += 1
        worst = evaluate(self.data, selected, stop=self.deadline.should_stop if stoppable else None)
        for reaction in worst.reactions:
            self.master.add_column(reaction)
        if worst.converged and worst.objective > self.incumbent:
            self.best = (selected.copy(), worst)
            self.progress.incumbent(worst.objective, solution_dict(self.data, selected, worst))

    def remember(self, selected: BoolArray, worst: WorstCase) -> bool:
        """Take a selection evaluated elsewhere: its reactions become columns; True if it is the new incumbent."""
        self.evaluated.add(selected.tobytes())
        for reaction in worst.reactions:
            self.master.add_column(reaction)
        if worst.converged and worst.objective > self.incumbent:
            self.best = (selected.copy(), worst)
            return True
        return False

    def global_bound(self, current: float) -> float:
        """Proven upper bound: the best of the open nodes, the current node and what was pruned."""
        open_best = max((node.bound for node in self.open), default=-float("inf"))
        return max(open_best, current, self.pruned_bound, self.incumbent)

    def report_bound(self, current: float) -> None:
        """Send the global bound to progress when it improved."""
        bound = self.global_bound(current)
        if bound < self.reported_bound:
            self.reported_bound = bound
            self.progress.bound(bound)
        elapsed = self.deadline.elapsed()
        if elapsed - self.last_log >= 5.0:
            self.last_log = elapsed
            self.progress.log(
                f"{elapsed:.1f}s nodes={self.nodes} open={len(self.open)} "
                f"columns={self.master.columns} incumbent={self.incumbent:.6f} bound={bound:.6f}"
            )

    def process(self, node: Node) -> tuple[Termination | None, Node | None]:
        """Column generation at a node, then prune, accept or branch.

        Returns a stop reason, if any, and the child to explore next (the other one is queued).
        """
        self.nodes += 1
        if self.master.columns > MAX_COLUMNS_PER_ITEM * self.data.n:
            self.master.purge(MAX_COLUMNS_PER_ITEM * self.data.n // 2)
        self.master.set_fixings(node.lower, node.upper)
        allowed = node.upper > 0.5
        node_bound = node.bound
        while True:
            reason = self.deadline.stop_reason()
            if reason is not None:
                self.push(Node.of(node.lower, node.upper, node_bound, node.depth, self.counter))
                return reason, None
            solved = self.master.solve()
            self.lp_solves += 1
            reduced_cost, reaction = self.master.price(solved, allowed)
            node_bound = min(node_bound, solved.value + max(reduced_cost, 0.0))
            self.report_bound(node_bound)
            if node_bound <= self.incumbent + self.prune_tolerance():
                self.pruned_bound = max(self.pruned_bound, node_bound)
                return None, None
            if reduced_cost <= PRICING_TOLERANCE * max(1.0, abs(solved.value)):
                break
            if not self.master.add_column(reaction):  # numerically stalled: no reduced-cost fixing
                reduced_cost = float("inf")
                break
        x = solved.x
        rounded = x > 0.5
        self.try_selection(rounded)
        fractional = np.minimum(x, 1.0 - x)
        if fractional.max() <= INTEGRALITY_TOLERANCE or node_bound <= self.incumbent + self.prune_tolerance():
            # an integral LP solution is the exact worst case of that selection: nothing left below
            self.pruned_bound = max(self.pruned_bound, node_bound)
            self.report_bound(-float("inf"))
            return None, None
        lower, upper = node.lower, node.upper
        if reduced_cost < float("inf"):
            lower, upper = self.fix_by_reduced_cost(node, solved, solved.value + max(reduced_cost, 0.0))
        branch = int(np.argmax(np.where(fractional > INTEGRALITY_TOLERANCE, fractional, 0.0) * self.branching_weight))
        children = []
        for fixed_value in (1.0, 0.0):
            child_lower, child_upper = lower.copy(), upper.copy()
            child_lower[branch] = child_upper[branch] = fixed_value
            children.append(Node.of(child_lower, child_upper, node_bound, node.depth + 1, self.counter))
        dive, other = children if x[branch] >= 0.5 else children[::-1]
        self.push(other)
        return None, dive

    def fix_by_reduced_cost(
        self, node: Node, solved: MasterSolution, lagrangian_bound: float
    ) -> tuple[FloatArray, FloatArray]:
        """Fix free xᵢ at their LP value where flipping them would cost more than the gap to the incumbent.

        Valid because the duals at column-generation convergence stay dual feasible (up to the last
        reduced cost, included in ``lagrangian_bound``) when only x's bounds change.
        """
        lower, upper = node.lower.copy(), node.upper.copy()
        slack = lagrangian_bound - self.incumbent - self.prune_tolerance()
        free = lower < upper
        at_one = free & (solved.x >= 1.0 - INTEGRALITY_TOLERANCE) & (solved.x_reduced_costs >= slack)
        at_zero = free & (solved.x <= INTEGRALITY_TOLERANCE) & (-solved.x_reduced_costs >= slack)
        lower[at_one] = 1.0
        upper[at_zero] = 0.0
        self.fixed_by_reduced_cost += int(at_one.sum() + at_zero.sum())
        return lower, upper

    def push(self, node: Node) -> None:
        """Queue a node, best bound first (deeper first among equals)."""
        heapq.heappush(self.open, node)

    def run(self, known: Iterable[tuple[BoolArray, WorstCase]] = ()) -> Result:
        """The search loop: best bound first, diving into one child after each branching."""
        n = self.data.n
        for selected, worst in known:
            self.remember(selected, worst)
        # the repaired selection's worst case needs no cutting planes: an incumbent even when the first
        # evaluation cannot converge within the limit (real-valued UN instances, n ≥ 60, at 10 s)
        repaired, repaired_worst = repaired_selection(self.data)
        if self.remember(repaired, repaired_worst):
            self.progress.incumbent(repaired_worst.objective, solution_dict(self.data, repaired, repaired_worst))
        self.try_selection(np.zeros(n, dtype=np.bool_), stoppable=False)  # worth exactly 0, one iteration
        self.try_selection(nominal_selection(self.data))
        self.push(Node.of(np.zeros(n), np.ones(n), self.trivial_bound(), 0, self.counter))
        self.report_bound(-float("inf"))
        termination = Termination.optimal
        while self.open and termination is Termination.optimal:
            node: Node | None = heapq.heappop(self.open)
            while node is not None:
                if node.bound <= self.incumbent + self.prune_tolerance():
                    self.pruned_bound = max(self.pruned_bound, node.bound)
                    break
                if self.options.node_limit is not None and self.nodes >= self.options.node_limit:
                    self.push(node)
                    termination = Termination.iteration_limit
                    break
                reason, node = self.process(node)
                if reason is not None:
                    termination = reason
                    break
        return self.result(termination)

    def result(self, termination: Termination) -> Result:
        """The Result with the best selection and the proven bound."""
        assert self.best is not None  # the empty selection is always evaluated first
        selected, worst = self.best
        bound = self.global_bound(-float("inf"))
        if termination is Termination.optimal and bound - worst.objective > 1e-6 * max(1.0, abs(worst.objective)):
            termination = Termination.gap_limit
        self.report_bound(-float("inf"))
        status = SolutionStatus.optimal if termination is Termination.optimal else SolutionStatus.feasible
        return Result(
            status=status,
            termination=termination,
            objective=worst.objective,
            bound=bound,
            solution=solution_dict(self.data, selected, worst),
            stats={
                "wall_time_s": self.deadline.elapsed(),
                "nodes": self.nodes,
                "open_nodes": len(self.open),
                "columns": self.master.columns,
                "columns_purged": self.master.purged,
                "lp_restarts": self.master.restarts,
                "lp_solves": self.lp_solves,
                "evaluations": self.evaluations,
                "fixed_by_reduced_cost": self.fixed_by_reduced_cost,
            },
        )
