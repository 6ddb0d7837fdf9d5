"""The graph network in numpy: committed weights per family, and the forward pass (no torch at solve time).

Architecture (the same in ``train.py``, where torch fits it): variable and constraint features are
standardised and embedded by a ReLU layer each; then ROUNDS rounds of message passing, each first updating
every constraint from the mean of its variables' embeddings (weighted by the row-normalised coefficients),
then every variable from the mean of its constraints'; a two-layer head gives each variable the logit of
P(x_j = 1 in good solutions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from solvers.milp.learned.features import FloatArray, GraphFeatures

#: Folder of the committed models, one ``<family>.npz`` each.
MODELS_DIR = Path(__file__).with_name("models")
#: Rounds of message passing (constraints then variables, each round).
ROUNDS = 2
#: Width of the node embeddings.
HIDDEN = 32


def model_path(family: str) -> Path:
    """Where the committed weights of ``family``'s model are."""
    return MODELS_DIR / f"{family}.npz"


def available_models() -> list[str]:
    """Families with a committed model, sorted."""
    return sorted(path.stem for path in MODELS_DIR.glob("*.npz"))


def _relu(values: FloatArray) -> FloatArray:
    out: FloatArray = np.maximum(values, 0.0)
    return out


@dataclass(frozen=True)
class GraphNetwork:
    """Weights by the name of the torch parameter they came from (``var_embed.weight`` …) and metadata."""

    weights: dict[str, FloatArray]
    metadata: dict[str, Any]

    def _linear(self, name: str, inputs: FloatArray) -> FloatArray:
        out: FloatArray = inputs @ self.weights[f"{name}.weight"].T
        bias = self.weights.get(f"{name}.bias")
        return out + bias if bias is not None else out

    def logits(self, graph: GraphFeatures) -> FloatArray:
        """The logit of P(x_j = 1) for every variable (meaningful for the binary ones)."""
        w = self.weights
        variables = (graph.variables - w["variable_mean"]) / w["variable_std"]
        constraints = (graph.constraints - w["constraint_mean"]) / w["constraint_std"]
        v = _relu(self._linear("var_embed", variables))
        c = _relu(self._linear("con_embed", constraints))
        for k in range(ROUNDS):
            c = _relu(self._linear(f"con_self.{k}", c) + self._linear(f"con_message.{k}", graph.to_constraints @ v))
            v = _relu(self._linear(f"var_self.{k}", v) + self._linear(f"var_message.{k}", graph.to_variables @ c))
        out: FloatArray = self._linear("head_out", _relu(self._linear("head_hidden", v)))[:, 0]
        return out

    def probabilities(self, graph: GraphFeatures) -> FloatArray:
        """P(x_j = 1) for every variable."""
        out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(self.logits(graph), -50.0, 50.0)))
        return out

    def save(self, path: Path) -> None:
        """Write the weights and the metadata (as JSON text) to an .npz file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[Any]] = {"metadata": np.array(json.dumps(self.metadata, sort_keys=True))}
        arrays.update({name: value.astype(np.float32) for name, value in self.weights.items()})
        np.savez_compressed(path, allow_pickle=False, **arrays)

    @staticmethod
    def load(path: Path) -> GraphNetwork:
        """Read weights written by :meth:`save` (computed on in float64)."""
        with np.load(path, allow_pickle=False) as stored:
            weights = {key: np.asarray(stored[key], dtype=np.float64) for key in stored.files if key != "metadata"}
            return GraphNetwork(weights, json.loads(str(stored["metadata"])))
