"""The ``monte_carlo`` solver: chunked simulation with running estimates reported as incumbents."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from solvers.base import Cancel, Progress, Result, SolutionStatus, Termination
from solvers.runtime import Deadline
from solvers.xva.engine import ADJUSTMENTS, PFE_QUANTILE, ChunkResult, RunningMoments, Setup, simulate_chunk
from solvers.xva.options import MonteCarloOptions
from solvers.xva.schema import Instance

#: Seconds between incumbents that carry the full solution (the first one always does; the PFE quantile
#: costs a pass over all paths).
SOLUTION_REPORT_INTERVAL_S = 2.0


class PathAccumulator:
    """Running means and standard errors over independent units (paths, or antithetic pairs)."""

    def __init__(self, setup: Setup, capacity: int, antithetic: bool) -> None:
        self.setup = setup
        self.antithetic = antithetic
        self.adjustments = RunningMoments()
        self.profiles = RunningMoments()
        self.positive_paths = np.empty((capacity, len(setup.times)), dtype=np.float32)
        self.paths = 0
        self._solution: tuple[int, dict[str, Any]] | None = None

    def add(self, chunk: ChunkResult) -> None:
        """Merge one chunk's paths."""
        adjustments = np.stack([chunk.adjustments[name] for name in ADJUSTMENTS], axis=1)
        profiles = np.stack([chunk.positive, chunk.negative, chunk.value, chunk.im_posted], axis=1)
        self.adjustments.add(self._units(adjustments))
        self.profiles.add(self._units(profiles))
        n = chunk.positive.shape[0]
        self.positive_paths[self.paths : self.paths + n] = chunk.positive
        self.paths += n

    def _units(self, per_path: np.ndarray) -> np.ndarray:
        """Average antithetic partners (first half, second half) into independent units."""
        if not self.antithetic:
            return per_path
        half = per_path.shape[0] // 2
        out: np.ndarray = 0.5 * (per_path[:half] + per_path[half:])
        return out

    @property
    def cva(self) -> float:
        """The running CVA estimate."""
        return float(self.adjustments.mean[0])

    def solution(self, default_probabilities: str) -> dict[str, Any]:
        """The solution dict of API.md from the paths so far (plain floats and lists), computed once per
        path count (the PFE quantile is a pass over all paths)."""
        if self._solution is not None and self._solution[0] == self.paths:
            return dict(self._solution[1])
        solution = self._solution_now(default_probabilities)
        self._solution = (self.paths, solution)
        return dict(solution)

    def _solution_now(self, default_probabilities: str) -> dict[str, Any]:
        means, errors = self.adjustments.mean, self.adjustments.std_error()
        profile_means, profile_errors = self.profiles.mean, self.profiles.std_error()
        # order-statistic standard error of a quantile: half the distance between the quantiles at
        # p ± sqrt(p(1 − p)/n) (binomial order statistics), taken in the same partition pass as the PFE
        spread = math.sqrt(PFE_QUANTILE * (1.0 - PFE_QUANTILE) / self.paths)
        levels = [max(PFE_QUANTILE - spread, 0.0), PFE_QUANTILE, min(PFE_QUANTILE + spread, 1.0)]
        low, pfe, high = np.quantile(self.positive_paths[: self.paths], levels, axis=0)
        solution: dict[str, Any] = {name: float(means[i]) for i, name in enumerate(ADJUSTMENTS)}
        solution["colva"] = 0.0
        solution["std_error"] = {name: float(errors[i]) for i, name in enumerate(ADJUSTMENTS)}
        solution["std_error"]["colva"] = 0.0
        solution["exposure"] = {
            "times": [float(t) for t in self.setup.times],
            "epe": _floats(profile_means[0]),
            "ene": _floats(profile_means[1]),
            "pfe": _floats(pfe),
            "pfe_std_error": _floats(0.5 * (high - low)),
            "epe_std_error": _floats(profile_errors[0]),
            "ene_std_error": _floats(profile_errors[1]),
            "expected_value": _floats(profile_means[2]),
            "expected_value_std_error": _floats(profile_errors[2]),
            "expected_im_posted": _floats(profile_means[3]),
        }
        solution["paths"] = self.paths
        solution["antithetic"] = self.antithetic
        solution["default_probabilities"] = default_probabilities
        return solution


def _floats(values: np.ndarray) -> list[float]:
    """A list of plain Python floats."""
    return [float(v) for v in values]


class MonteCarloSolver:
    """Monte Carlo exposure simulation with closed-form pricing on the grid (the reference solver)."""

    name = "monte_carlo"
    Options = MonteCarloOptions

    def solve(self, instance: Instance, options: MonteCarloOptions, progress: Progress, cancel: Cancel) -> Result:
        """Simulate the requested paths chunk by chunk until done, out of time or cancelled."""
        deadline = Deadline(options.time_limit_s, cancel)
        setup = Setup.from_instance(instance)
        requested = instance.simulation.paths
        antithetic = options.antithetic
        total = requested + (requested % 2 if antithetic else 0)
        chunk_size = options.chunk_paths or setup.chunk_paths()
        chunk_size = chunk_size - chunk_size % 2 if antithetic else chunk_size
        seeds = np.random.SeedSequence([instance.simulation.seed, options.seed])
        accumulator = PathAccumulator(setup, total, antithetic)
        termination = Termination.optimal
        last_report = -math.inf
        stopped: list[Termination] = []

        def stop() -> bool:
            reason = deadline.stop_reason()
            if reason is not None:
                stopped.append(reason)
            return bool(stopped)

        while accumulator.paths < total:
            n_paths = min(chunk_size, total - accumulator.paths)
            rng = np.random.Generator(np.random.PCG64(seeds.spawn(1)[0]))
            chunk = (
                None
                if stop()
                else simulate_chunk(
                    setup,
                    rng,
                    n_paths,
                    antithetic,
                    options.default_probabilities == "simulated",
                    options.importance_sampling,
                    stop,
                )
            )
            if chunk is None:
                termination = stopped[0]
                break
            accumulator.add(chunk)
            now = time.monotonic()
            with_solution = now - last_report >= SOLUTION_REPORT_INTERVAL_S
            progress.incumbent(
                accumulator.cva,
                accumulator.solution(options.default_probabilities) if with_solution else None,
            )
            if with_solution:
                last_report = now
        solve_time = deadline.elapsed()
        stats = {
            "paths_requested": requested,
            "paths_done": accumulator.paths,
            "chunk_paths": chunk_size,
            "solve_time_s": solve_time,
            "wall_time_s": solve_time,
        }
        if accumulator.paths == 0:
            return Result(SolutionStatus.no_solution, termination, stats=stats)
        solution = accumulator.solution(options.default_probabilities)
        stats["paths_per_second"] = accumulator.paths / max(solve_time, 1e-9)
        return Result(
            SolutionStatus.feasible,
            termination,
            objective=solution["cva"],
            bound=None,
            solution=solution,
            stats=stats,
        )
