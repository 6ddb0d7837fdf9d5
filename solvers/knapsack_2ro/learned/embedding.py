"""The main problem of the loop: the value network embedded in a HiGHS MILP, one block per scenario.

    max  Σ(p̄ᵢ − fᵢ)xᵢ + n·s·z    s.t.  z ≤ ρ((1/n) Σᵢ xᵢ φ(uᵢ(ξˢ)))  for every scenario ξˢ,  x ∈ {0, 1}ⁿ.

For a fixed scenario φ(uᵢ(ξˢ)) is a constant vector per item, so the first layer of ρ is linear in x
and needs no binaries; each hidden ReLU unit of ρ with pre-activation bounds L < 0 < U (interval
arithmetic over x ∈ {0, 1}ⁿ) becomes the big-M block a ≥ pre, a ≤ pre − L(1 − δ), a ≤ Uδ, a ≥ 0,
δ ∈ {0, 1}; a unit with U ≤ 0 is dropped and one with L ≥ 0 is linear. Selections already evaluated
are excluded by no-good cuts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from solvers.knapsack_2ro.evaluation import BoolArray, Data, FloatArray, first_stage_profit
from solvers.knapsack_2ro.learned.network import ValueNetwork, item_features, value_scale

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class MainSolution:
    """What a main-problem solve gives: a selection and its predicted worst-case profit."""

    selected: BoolArray
    predicted: float
    """Σ(p̄ − f)x + predicted min over the scenarios of Q(x, ξˢ), in the instance's units."""
    proven_optimal: bool
    """HiGHS proved it optimal for the network (not for the instance)."""


class MainProblem:
    """The MILP over x with one embedded copy of ρ per scenario (built incrementally)."""

    def __init__(self, data: Data, network: ValueNetwork) -> None:
        self.data = data
        self.network = network
        n = data.n
        self.scale = n * value_scale(data)
        self.model = highspy.Highs()  # type: ignore[no-untyped-call]
        self.model.setOptionValue("output_flag", False)
        self.model.setOptionValue("threads", 1)
        # HiGHS 1.16's presolve can stall in HPresolve::strengthenInequalities (ignoring the time
        # limit) on these big-M models, at the top level and in every sub-MIP: RENS, RINS and the root
        # reduced-cost heuristic (seen stalled > 10 min on RKP_SC_n60_R1000_H100_h40_dev0.2_d0.1 at a
        # 5 s limit). Presolve off everywhere, those heuristics off. The models are small, and they
        # solve as fast without.
        self.model.setOptionValue("presolve", "off")
        self.model.setOptionValue("mip_root_presolve_only", True)
        self.model.setOptionValue("mip_heuristic_run_rens", False)
        self.model.setOptionValue("mip_heuristic_run_rins", False)
        self.model.setOptionValue("mip_heuristic_run_root_reduced_cost", False)
        self.model.changeObjectiveSense(highspy.ObjSense.kMaximize)
        inf = highspy.kHighsInf
        # Columns 0..n-1: x; column n: z (predicted value in units of n·s).
        self.model.addVars(n, np.zeros(n), np.ones(n))
        self.model.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger))
        self.model.changeColsCost(n, np.arange(n, dtype=np.int32), data.profit - data.penalty)
        self.model.addVar(-inf, inf)
        self.model.changeColCost(n, self.scale)
        self.columns = n + 1
        self.scenario_list: list[FloatArray] = []
        self.binaries = 0

    @property
    def scenarios(self) -> int:
        """Number of scenarios embedded so far."""
        return len(self.scenario_list)

    def _add_column(self, lower: float, upper: float, binary: bool = False) -> int:
        """A new column with zero cost; returns its index."""
        self.model.addVar(lower, upper)
        index = self.columns
        self.columns += 1
        if binary:
            self.model.changeColIntegrality(index, highspy.HighsVarType.kInteger)
            self.binaries += 1
        return index

    def _add_row(self, lower: float, upper: float, columns: IntArray, values: FloatArray) -> None:
        """A row lower ≤ Σ values·columns ≤ upper."""
        self.model.addRow(lower, upper, columns.size, columns, values)

    def _relu(
        self, columns: IntArray, coefficients: FloatArray, constant: float, lower: float, upper: float
    ) -> int | None:
        """a = max(0, Σ coefficients·columns + constant) with pre-activation bounds; None when a ≡ 0."""
        inf = highspy.kHighsInf
        if upper <= 0:
            return None
        unit = self._add_column(0.0, upper)
        with_unit = np.append(columns, unit).astype(np.int32)
        if lower >= 0:  # always active: a = pre
            self._add_row(constant, constant, with_unit, np.append(-coefficients, 1.0))
            return unit
        switch = self._add_column(0.0, 1.0, binary=True)
        # a − pre ≥ 0
        self._add_row(constant, inf, with_unit, np.append(-coefficients, 1.0))
        # a − pre − L·δ ≤ −L   (a ≤ pre − L(1 − δ))
        self._add_row(
            -inf,
            constant - lower,
            np.append(with_unit, switch).astype(np.int32),
            np.append(-coefficients, [1.0, -lower]),
        )
        # a − U·δ ≤ 0
        self._add_row(-inf, 0.0, np.array([unit, switch], dtype=np.int32), np.array([1.0, -upper]))
        return unit

    def add_scenario(self, xi: FloatArray) -> None:
        """Add z ≤ ρ(pooled embedding of x under ξ) for one scenario."""
        n = self.data.n
        embedding = self.network.item_embedding(item_features(self.data, xi)) / n  # n × d, ≥ 0
        layers = self.network.pooled_layers
        first = layers[0]
        per_item = embedding @ first.weight.T  # n × h: contribution of xᵢ = 1 to each first-layer unit
        lower = first.bias + np.minimum(per_item, 0.0).sum(axis=0)
        upper = first.bias + np.maximum(per_item, 0.0).sum(axis=0)
        x_columns = np.arange(n, dtype=np.int32)
        units: list[int | None] = [
            self._relu(x_columns, per_item[:, k], float(first.bias[k]), float(lower[k]), float(upper[k]))
            for k in range(per_item.shape[1])
        ]
        active_upper = np.maximum(upper, 0.0)
        for layer in layers[1:]:
            kept = [k for k, unit in enumerate(units) if unit is not None]
            columns = np.array([units[k] for k in kept], dtype=np.int32)
            weight = layer.weight[:, kept]
            bounds_upper = active_upper[kept]
            lower = layer.bias + np.minimum(weight, 0.0) @ bounds_upper
            upper = layer.bias + np.maximum(weight, 0.0) @ bounds_upper
            if layer is layers[-1]:
                # z − w·a ≤ b
                self._add_row(
                    -highspy.kHighsInf,
                    float(layer.bias[0]),
                    np.append(columns, n).astype(np.int32),
                    np.append(-weight[0], 1.0),
                )
                break
            units = [
                self._relu(columns, weight[k], float(layer.bias[k]), float(lower[k]), float(upper[k]))
                for k in range(weight.shape[0])
            ]
            active_upper = np.maximum(upper, 0.0)
        self.scenario_list.append(np.array(xi, dtype=np.float64))

    def exclude(self, selected: BoolArray) -> None:
        """No-good cut: Σ_{i ∈ S}(1 − xᵢ) + Σ_{i ∉ S} xᵢ ≥ 1."""
        n = self.data.n
        coefficients = np.where(selected, -1.0, 1.0)
        self._add_row(1.0 - float(selected.sum()), highspy.kHighsInf, np.arange(n, dtype=np.int32), coefficients)

    def fix(self, selected: BoolArray) -> None:
        """Fix x (used to check the embedding against the forward pass)."""
        n = self.data.n
        values = selected.astype(np.float64)
        self.model.changeColsBounds(n, np.arange(n, dtype=np.int32), values, values)

    def solve(self, time_limit_s: float, stop: Callable[[], bool], rel_gap: float = 1e-4) -> MainSolution | None:
        """Solve within the time limit, interrupted when ``stop()``; None without a feasible selection."""
        if not self.scenario_list:
            raise ValueError("add a scenario before solving the main problem")
        self.model.setOptionValue("time_limit", max(time_limit_s, 0.01))
        self.model.setOptionValue("mip_rel_gap", rel_gap)

        def on_interrupt(event: object) -> None:
            if stop():
                event.interrupt()  # type: ignore[attr-defined]

        self.model.cbMipInterrupt.subscribe(on_interrupt)
        try:
            self.model.run()
        finally:
            self.model.cbMipInterrupt.unsubscribe(on_interrupt)
        info = self.model.getInfo()
        if info.primal_solution_status != 2:
            return None
        n = self.data.n
        values = np.asarray(self.model.getSolution().col_value)
        selected = values[:n] > 0.5
        predicted = first_stage_profit(self.data, selected) + self.scale * float(values[n])
        optimal = self.model.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return MainSolution(selected=selected, predicted=predicted, proven_optimal=optimal)
