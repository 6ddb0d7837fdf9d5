"""Training labels: the improving incumbents HiGHS finds on a training instance, weighted by objective.

HiGHS keeps no solution pool, so its improving-solution callback collects the pool: every incumbent x^k
with objective z^k (as a minimisation). The label of binary j is Σ_k w_k x^k_j with
w = softmax(−(z^k − z_best) / (T · max(|z_best|, 1))), Predict-and-Search's weighting of Gurobi's pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from solvers.base import JSON, NeverCancel
from solvers.milp.generate import Family
from solvers.milp.highs import HighsSolver
from solvers.milp.learned.families import FAMILY_SIZES, TRAINING_SEEDS, family_instance
from solvers.milp.options import HighsOptions
from solvers.milp.schema import MilpModel, parse

#: Temperature of the objective weighting, relative to |best objective|.
TEMPERATURE = 0.01


@dataclass(frozen=True)
class Incumbents:
    """The improving solutions of one run: objectives (model sense) and values (rows: solutions)."""

    objectives: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    status: str


class _Pool:
    """A Progress that keeps every improving incumbent with its values."""

    def __init__(self, model: MilpModel) -> None:
        self.model = model
        self.found: list[tuple[float, npt.NDArray[np.float64]]] = []

    def incumbent(self, objective: float, solution: JSON | None = None) -> None:
        if solution is not None:
            values = solution["values"]
            self.found.append((objective, np.array([values[name] for name in self.model.var_names])))

    def bound(self, bound: float) -> None:
        """Bounds are not labels."""

    def log(self, message: str) -> None:
        """The solver log is not kept."""


def collect_incumbents(model: MilpModel, time_limit_s: float, seed: int = 0) -> Incumbents:
    """Every improving incumbent of a one-thread HiGHS run of at most ``time_limit_s``."""
    pool = _Pool(model)
    options = HighsOptions(time_limit_s=time_limit_s, seed=seed, threads=1)
    result = HighsSolver().solve(model, options, pool, NeverCancel())
    objectives = np.array([objective for objective, _ in pool.found])
    values = np.array([x for _, x in pool.found]).reshape(len(pool.found), model.num_vars)
    return Incumbents(objectives, values, result.termination.value)


def soft_labels(sense: str, incumbents: Incumbents, temperature: float = TEMPERATURE) -> npt.NDArray[np.float64]:
    """Σ_k w_k x^k with w = softmax of −(relative objective excess) / temperature."""
    costs = incumbents.objectives * (-1.0 if sense == "maximize" else 1.0)
    best = costs.min()
    energy = (costs - best) / (temperature * max(abs(best), 1.0))
    weights = np.exp(-energy)
    weights /= weights.sum()
    labels: npt.NDArray[np.float64] = weights @ incumbents.values
    return labels


def instance_model(family: Family, seed: int) -> MilpModel:
    """The parsed training (or held-out) instance of ``family`` with ``seed``."""
    model: MilpModel = parse(family_instance(family, seed))
    return model


#: Folder of the committed labels, one ``<family>.npz`` each (so training is reproducible to the bit from them).
LABELS_DIR = Path(__file__).with_name("training_labels")


def labels_path(family: str) -> Path:
    """Where the committed labels of ``family`` are."""
    return LABELS_DIR / f"{family}.npz"


@dataclass(frozen=True)
class LabelSet:
    """Soft labels of the variables of training instances ``seeds`` of one family."""

    family: Family
    seeds: list[int]
    labels: list[npt.NDArray[np.float64]]  # one per seed: a label per variable (binaries are the ones used)
    metadata: dict[str, Any]

    def save(self, path: Path) -> None:
        """Write to an .npz file (labels concatenated, with offsets)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0, *(len(x) for x in self.labels)])
        np.savez_compressed(
            path,
            allow_pickle=False,
            seeds=np.array(self.seeds, dtype=np.int64),
            offsets=offsets.astype(np.int64),
            labels=np.concatenate(self.labels).astype(np.float32) if self.labels else np.zeros(0, np.float32),
            metadata=np.array(json.dumps({"family": self.family, **self.metadata}, sort_keys=True)),
        )

    @staticmethod
    def load(path: Path) -> LabelSet:
        """Read labels written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as stored:
            offsets = stored["offsets"]
            flat = np.asarray(stored["labels"], dtype=np.float64)
            metadata = json.loads(str(stored["metadata"]))
            labels = [flat[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]
            return LabelSet(metadata.pop("family"), [int(s) for s in stored["seeds"]], labels, metadata)


def collect_labels(
    family: Family, seeds: Sequence[int], time_limit_s: float, log: Callable[[str], None] = print
) -> LabelSet:
    """Solve each training instance with HiGHS for ``time_limit_s`` and weight its incumbents into labels."""
    labels: list[npt.NDArray[np.float64]] = []
    runs: list[JSON] = []
    for seed in seeds:
        if seed not in TRAINING_SEEDS:
            raise ValueError(f"seed {seed} is not a training seed")
        model = instance_model(family, seed)
        incumbents = collect_incumbents(model, time_limit_s)
        if len(incumbents.objectives) == 0:
            log(f"{family} seed {seed}: no incumbent in {time_limit_s} s, skipped")
            continue
        labels.append(soft_labels(model.sense, incumbents))
        best = float(incumbents.objectives[-1])
        runs.append({"seed": seed, "incumbents": len(incumbents.objectives), "best": best, "end": incumbents.status})
        log(f"{family} seed {seed}: {len(incumbents.objectives)} incumbents, best {best:g}, {incumbents.status}")
    kept = [run["seed"] for run in runs]
    metadata = {
        "time_limit_s": time_limit_s,
        "temperature": TEMPERATURE,
        "sizes": FAMILY_SIZES[family],
        "solver": "HiGHS, 1 thread, seed 0",
        "runs": runs,
    }
    return LabelSet(family, kept, labels, metadata)
