"""``predict_and_search`` (Han et al., ICLR 2023) on HiGHS, with an anytime finish on the full model.

1. The family's graph network (numpy) predicts P(x_j = 1) for every binary x_j.
2. Trust region: the k0 binaries most likely 0 (S0) and the k1 most likely 1 (S1) may differ from that
   guess in at most Δ places, Σ_{S0} x + Σ_{S1} (1 − x) ≤ Δ, one extra row; HiGHS solves this restricted
   model for at most ``restricted_time_share`` of the time limit and ``restricted_time_cap_s`` seconds (less
   when it closes it sooner).
3. The rest of the time goes to HiGHS on the full model, started from the best restricted solution (offered
   once HiGHS's pre-root heuristics have run from scratch): the answer is never worse than the restricted
   phase's, and optimality can still be proved.

Incumbents of both phases are reported as they improve; bounds only from the full model (the restricted
model's bound is no bound on the full one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from solvers.base import JSON, Cancel, Progress, Result, SolutionStatus, Termination
from solvers.milp.generate import Family
from solvers.milp.highs import HighsSolver
from solvers.milp.learned.families import recognise_family
from solvers.milp.learned.features import binary_mask, graph_features
from solvers.milp.learned.network import GraphNetwork, available_models, model_path
from solvers.milp.learned.options import PredictAndSearchOptions
from solvers.milp.options import HighsOptions
from solvers.milp.outcome import consistent_bound, finish_status, infeasible_by_bounds
from solvers.milp.schema import MilpModel
from solvers.runtime import Deadline, improves_incumbent

#: Name of the trust-region row added to the restricted model.
TRUST_REGION_ROW = "predict_and_search_trust_region"
#: Below this many seconds left, the full-model phase is not started.
MIN_PHASE_S = 0.05


@cache
def load_model(family: str) -> GraphNetwork:
    """The committed network of ``family`` (read once per process)."""
    return GraphNetwork.load(model_path(family))


def preload() -> None:
    """Read every committed network now (a worker's template calls this once, so that no job reads them)."""
    for family in available_models():
        load_model(family)


@dataclass(frozen=True)
class TrustRegion:
    """Indices of the binaries guessed 0 (S0) and 1 (S1), and how many of them may flip (Δ)."""

    zeros: npt.NDArray[np.intp]
    ones: npt.NDArray[np.intp]
    delta: int


def trust_region(
    probabilities: npt.NDArray[np.float64],
    binary: npt.NDArray[np.bool_],
    zeros_share: float,
    ones_share: float,
    delta_share: float,
) -> TrustRegion:
    """S1: the ⌊ones_share·n⌉ binaries with the highest P(x = 1); S0: the ⌊zeros_share·n⌉ with the lowest
    (never overlapping S1); Δ = ⌈delta_share·(|S0| + |S1|)⌉. Ties are broken by variable order."""
    candidates = np.flatnonzero(binary)
    count = len(candidates)
    ones_count = min(round(ones_share * count), count)
    zeros_count = min(round(zeros_share * count), count - ones_count)
    order = candidates[np.argsort(probabilities[candidates], kind="stable")]
    zeros = np.sort(order[:zeros_count])
    ones = np.sort(order[count - ones_count :]) if ones_count else np.zeros(0, dtype=np.intp)
    return TrustRegion(zeros, ones, math.ceil(delta_share * (zeros_count + ones_count)))


def restricted_model(model: MilpModel, region: TrustRegion) -> MilpModel:
    """``model`` plus the row Σ_{S0} x − Σ_{S1} x ≤ Δ − |S1| (the same variables, so solutions carry over)."""
    row = np.zeros(model.num_vars)
    row[region.zeros] = 1.0
    row[region.ones] = -1.0
    matrix = sp.csr_matrix(sp.vstack([model.matrix, sp.csr_matrix(row)]))
    return replace(
        model,
        row_names=[*model.row_names, TRUST_REGION_ROW],
        matrix=matrix,
        row_lb=np.append(model.row_lb, -np.inf),
        row_ub=np.append(model.row_ub, float(region.delta - len(region.ones))),
        var_index=model.var_index,
        notes=list(model.notes),
    )


class PhaseProgress:
    """Passes on incumbents that improve on both phases' best, and bounds only while they are valid ones."""

    def __init__(self, sense: str, progress: Progress) -> None:
        self.sense = sense
        self.progress = progress
        self.best: float | None = None
        self.phase = "restricted"

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        if improves_incumbent(self.sense, objective, self.best):  # type: ignore[arg-type]
            self.best = objective
            self.progress.incumbent(objective, solution)

    def bound(self, bound: float) -> None:
        if self.phase == "full":
            self.progress.bound(bound)

    def log(self, message: str) -> None:
        self.progress.log(f"[{self.phase} model] {message}")


def _values(model: MilpModel, result: Result) -> npt.NDArray[np.float64] | None:
    if result.solution is None or result.status not in (SolutionStatus.feasible, SolutionStatus.optimal):
        return None
    values = result.solution["values"]
    return np.array([values[name] for name in model.var_names], dtype=np.float64)


def _highs_options(options: PredictAndSearchOptions, time_limit_s: float) -> HighsOptions:
    return HighsOptions(
        time_limit_s=max(time_limit_s, 0.01),
        rel_gap=options.rel_gap,
        seed=options.seed,
        threads=options.threads,
        presolve=options.presolve,
    )


def _phase_stats(result: Result, seconds: float) -> JSON:
    return {
        "time_s": seconds,
        "termination": result.termination.value,
        "status": result.status.value,
        "objective": result.objective,
    }


def choose_model(model: MilpModel, requested: Family | None) -> tuple[Family | None, str]:
    """The family model to use and why (``option`` / ``recognised``), or None and the reason none fits."""
    models = available_models()
    if requested is not None:
        if requested not in models:
            return None, f"no committed model for family {requested!r}; models: {', '.join(models)}"
        return requested, "option"
    if not binary_mask(model).any():
        return None, "the model has no binary variables for the network to predict"
    family = recognise_family(model)
    if family is None or family not in models:
        return None, (
            "the instance's structure fits none of the models "
            f"({', '.join(models)}); choose one with the option `model` to use it anyway"
        )
    return family, "recognised"


class PredictAndSearchSolver:
    """A trained graph network narrows the search to a trust region; HiGHS solves it, then the full model."""

    name = "predict_and_search"
    Options = PredictAndSearchOptions

    def solve(
        self, instance: MilpModel, options: PredictAndSearchOptions, progress: Progress, cancel: Cancel
    ) -> Result:
        """Predict, solve the trust-region model, then the full model warm-started, all within the time limit."""
        deadline = Deadline(options.time_limit_s, cancel)
        infeasible = infeasible_by_bounds(instance)
        if infeasible is not None:
            return infeasible
        relay = PhaseProgress(instance.sense, progress)
        highs = HighsSolver()
        family, why = choose_model(instance, options.model)
        if family is None:
            progress.log(f"predict_and_search: no model used, HiGHS solves the full model: {why}")
            relay.phase = "full"
            result = highs.solve(instance, _highs_options(options, options.time_limit_s), relay, cancel)
            result.stats.update({"model": None, "fallback": why, "solve_time_s": deadline.elapsed()})
            return result

        network = load_model(family)
        graph = graph_features(instance)
        probabilities = network.probabilities(graph)
        defaults: dict[str, float] = network.metadata["trust_region"]
        shares = (
            defaults["fixed_zeros"] if options.fixed_zeros is None else options.fixed_zeros,
            defaults["fixed_ones"] if options.fixed_ones is None else options.fixed_ones,
            defaults["delta"] if options.delta is None else options.delta,
        )
        region = trust_region(probabilities, graph.binary, *shares)
        stats: JSON = {
            "model": family,
            "model_chosen_by": why,
            "binaries": int(graph.binary.sum()),
            "fixed_zeros": len(region.zeros),
            "fixed_ones": len(region.ones),
            "delta": region.delta,
            "predict_time_s": deadline.elapsed(),
        }
        progress.log(
            f"predict_and_search: model {family} ({why}); trust region over {len(region.zeros)} zeros and "
            f"{len(region.ones)} ones, Δ = {region.delta}"
        )
        restricted = deadline.within(
            min(options.restricted_time_share * options.time_limit_s, options.restricted_time_cap_s)
        )
        first, start, stages = self._restricted_stages(
            instance, probabilities, graph.binary, shares, options, restricted, relay, cancel
        )
        # the phase's best answer, and how its last stage ended (a closed stage may be followed by one cut short)
        stats["restricted"] = {**_phase_stats(first, restricted.elapsed()), "termination": stages[-1]["termination"]}
        stats["stages"] = stages
        if deadline.cancelled() or first.termination is Termination.cancelled or deadline.remaining() < MIN_PHASE_S:
            termination = deadline.termination()
            status = SolutionStatus.feasible if start is not None else SolutionStatus.no_solution
            stats["solve_time_s"] = deadline.elapsed()
            return Result(
                status, termination, first.objective, None, first.solution if start is not None else None, stats
            )

        relay.phase = "full"
        full = deadline.within(deadline.remaining())
        second = highs.solve(
            instance,
            _highs_options(options, full.remaining()),
            relay,
            cancel,
            initial=start,
            start_after_heuristics=True,
        )
        stats["full"] = _phase_stats(second, full.elapsed())
        final = self._better(instance, first, second)
        final.stats = {**second.stats, **stats, "solve_time_s": deadline.elapsed()}
        return final

    @staticmethod
    def _restricted_stages(
        instance: MilpModel,
        probabilities: npt.NDArray[np.float64],
        binary: npt.NDArray[np.bool_],
        shares: tuple[float, float, float],
        options: PredictAndSearchOptions,
        restricted: Deadline,
        relay: PhaseProgress,
        cancel: Cancel,
    ) -> tuple[Result, npt.NDArray[np.float64] | None, list[JSON]]:
        """Solve the trust-region model; while HiGHS closes it with restricted time left, widen the region
        (keep ⌊``widening``·|S0|⌋ of S0, its likeliest zeros) and solve again from the best solution so far.

        Each wider region contains the narrower one, so the incumbent is a valid start and a stage never ends
        worse. Returns the best restricted result (its bound dropped: it bounds the restricted model only), its
        values, and one entry per stage for ``stats``."""
        zeros_share, ones_share, delta_share = shares
        highs = HighsSolver()
        best: Result | None = None
        start: npt.NDArray[np.float64] | None = None
        stages: list[JSON] = []
        candidates = np.flatnonzero(binary)
        while True:
            region = trust_region(probabilities, binary, zeros_share, ones_share, delta_share)
            stage = restricted.within(restricted.remaining())
            result = highs.solve(
                restricted_model(instance, region),
                _highs_options(options, stage.remaining()),
                relay,
                cancel,
                initial=start,
            )
            result.bound = None
            stages.append({"fixed_zeros": len(region.zeros), **_phase_stats(result, stage.elapsed())})
            if best is None or (
                result.objective is not None and improves_incumbent(instance.sense, result.objective, best.objective)
            ):
                best, start = result, _values(instance, result)
            closed = result.termination in (Termination.optimal, Termination.gap_limit)
            zeros_share = math.floor(options.widening * len(region.zeros)) / len(candidates)
            if not closed or options.widening >= 1 or len(region.zeros) == 0 or restricted.remaining() < MIN_PHASE_S:
                return best, start, stages

    @staticmethod
    def _better(model: MilpModel, first: Result, second: Result) -> Result:
        """The full-model result, with the restricted phase's answer where that one is better."""
        if first.objective is None or first.solution is None:
            return second
        if second.objective is not None and not improves_incumbent(model.sense, first.objective, second.objective):
            return second
        bound = consistent_bound(model.sense, first.objective, second.bound)
        termination, status = second.termination, SolutionStatus.feasible
        if termination in (Termination.optimal, Termination.gap_limit):
            termination, status = finish_status(first.objective, bound)
        elif termination in (Termination.infeasible, Termination.unbounded):
            termination = Termination.other
        return Result(status, termination, first.objective, bound, first.solution, dict[str, Any]())
