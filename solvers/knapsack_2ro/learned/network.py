"""The second-stage value network in numpy: item features, weights and the forward pass.

The network predicts Q(x, ξ) = max_{y ≤ x, r ≤ y} Σ[(f − p̂ξ)y + p̂ξr] within the capacity, a DeepSets
design made to be embedded in a MILP:

    Q(x, ξ) ≈ n · s · ρ( (1/n) Σᵢ xᵢ φ(uᵢ(ξᵢ)) )

where uᵢ are the features of item i under scenario ξ (the data of the multiple-choice knapsack the
second stage solves, scale-free), φ and ρ are ReLU MLPs and s = mean(f) is the instance's value scale.
An unselected item contributes nothing, and for a fixed scenario the pooled vector is linear in x.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from solvers.knapsack_2ro.evaluation import Data

FloatArray = npt.NDArray[np.float64]

#: The committed trained weights (see ``train.py`` for the command that reproduces them).
WEIGHTS_PATH = Path(__file__).with_name("weights.npz")
#: Number of features per item (see :func:`item_features`).
FEATURES = 9


def value_scale(data: Data) -> float:
    """s = mean outsourcing penalty f (at least 1): the unit of predicted values."""
    return max(float(np.mean(data.penalty)), 1.0)


def item_features(data: Data, xi: FloatArray) -> FloatArray:
    """Features uᵢ of every item under scenario ξ (rows: items), the data of the second-stage knapsack.

    Values are in units of s, weights in units of the mean capacity share C/n: value if produced
    without repair (f − p̂ξ)/s, value if repaired f/s, their weights, their efficiencies, ξ, p̂/s and
    the share of the capacity an item takes.
    """
    n = data.n
    s = value_scale(data)
    capacity = max(float(data.capacity), 1.0)
    weight_unit = capacity / n
    produce_value = (data.penalty - data.degradation * xi) / s
    repair_value = data.penalty / s
    produce_weight = data.weight / weight_unit
    repair_weight = (data.weight + data.repair_weight) / weight_unit
    return np.column_stack(
        [
            produce_value,
            repair_value,
            produce_weight,
            repair_weight,
            produce_value / np.maximum(produce_weight, 1e-3),
            repair_value / np.maximum(repair_weight, 1e-3),
            xi,
            data.degradation / s,
            data.weight / capacity,
        ]
    )


@dataclass(frozen=True)
class Layer:
    """A dense layer y = W x + b (W: out × in)."""

    weight: FloatArray
    bias: FloatArray


@dataclass(frozen=True)
class ValueNetwork:
    """φ (per item, every layer ReLU) and ρ (on the pooled vector, ReLU hidden layers, linear output)."""

    item_layers: tuple[Layer, ...]
    pooled_layers: tuple[Layer, ...]
    feature_mean: FloatArray
    feature_std: FloatArray
    metadata: dict[str, object]

    @property
    def pooled_size(self) -> int:
        """Size of the pooled item embedding."""
        return int(self.item_layers[-1].weight.shape[0])

    def item_embedding(self, features: FloatArray) -> FloatArray:
        """φ(u) for each row of features (rows: items)."""
        hidden = (features - self.feature_mean) / self.feature_std
        for layer in self.item_layers:
            hidden = np.maximum(hidden @ layer.weight.T + layer.bias, 0.0)
        return hidden

    def head(self, pooled: FloatArray) -> FloatArray:
        """ρ of pooled vectors (rows), a scalar per row in units of n · s."""
        hidden = pooled
        for layer in self.pooled_layers[:-1]:
            hidden = np.maximum(hidden @ layer.weight.T + layer.bias, 0.0)
        last = self.pooled_layers[-1]
        out: FloatArray = (hidden @ last.weight.T + last.bias)[..., 0]
        return out

    def predict(self, data: Data, selected: npt.NDArray[np.bool_] | FloatArray, xi: FloatArray) -> float:
        """Predicted second-stage value Q(x, ξ) in the instance's own units."""
        embedding = self.item_embedding(item_features(data, xi))
        pooled = np.asarray(selected, dtype=np.float64) @ embedding / data.n
        return float(self.head(pooled[None, :])[0]) * data.n * value_scale(data)

    def save(self, path: Path) -> None:
        """Write the weights (and the metadata as JSON text) to an .npz file."""
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "metadata": np.array(json.dumps(self.metadata, sort_keys=True)),
            "feature_mean": self.feature_mean,
            "feature_std": self.feature_std,
        }
        for prefix, layers in (("item", self.item_layers), ("pooled", self.pooled_layers)):
            for k, layer in enumerate(layers):
                arrays[f"{prefix}_{k}_weight"] = layer.weight
                arrays[f"{prefix}_{k}_bias"] = layer.bias
        np.savez_compressed(path, allow_pickle=False, **arrays)

    @staticmethod
    def load(path: Path = WEIGHTS_PATH) -> ValueNetwork:
        """Read weights written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as stored:

            def layers(prefix: str) -> tuple[Layer, ...]:
                count = sum(1 for key in stored.files if key.startswith(prefix) and key.endswith("_weight"))
                return tuple(
                    Layer(
                        np.asarray(stored[f"{prefix}_{k}_weight"], dtype=np.float64),
                        np.asarray(stored[f"{prefix}_{k}_bias"], dtype=np.float64),
                    )
                    for k in range(count)
                )

            return ValueNetwork(
                item_layers=layers("item"),
                pooled_layers=layers("pooled"),
                feature_mean=np.asarray(stored["feature_mean"], dtype=np.float64),
                feature_std=np.asarray(stored["feature_std"], dtype=np.float64),
                metadata=json.loads(str(stored["metadata"])),
            )
