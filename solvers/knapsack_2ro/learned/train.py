"""Training of the value network (torch, CPU) and export of its weights to an .npz file.

Reproduce the committed weights (the command recorded in their metadata):

    .venv/bin/python -m solvers.knapsack_2ro.learned.train --output solvers/knapsack_2ro/learned/weights.npz

Torch is imported here only; the solver reads the exported numpy weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from solvers.knapsack_2ro.learned.data import TRAINING_SEEDS, Samples, build_dataset
from solvers.knapsack_2ro.learned.network import FEATURES, WEIGHTS_PATH, Layer, ValueNetwork

#: Hidden sizes of φ (per item; the last is the pooled size) and of ρ (on the pooled vector).
ITEM_SIZES = (32, 16)
POOLED_SIZES = (32, 8)
#: Share of the instances kept for validation (the last ones).
VALIDATION_SHARE = 0.1


def _split(samples: Samples, instances: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation samples (split by instance)."""
    first_validation = instances - max(1, round(VALIDATION_SHARE * instances))
    validation = samples.instance >= first_validation
    return np.flatnonzero(~validation), np.flatnonzero(validation)


def train(
    output_path: Path | str = WEIGHTS_PATH,
    seed: int = 0,
    instances: int = 800,
    selections: int = 5,
    scenarios: int = 10,
    epochs: int = 80,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    workers: int = 2,
    log: Any = print,
) -> dict[str, Any]:
    """Generate labels on training instances 0..instances−1, train, export the weights; returns the metadata."""
    import torch

    started = time.perf_counter()
    samples = build_dataset(instances, selections, scenarios, workers=workers)
    data_seconds = time.perf_counter() - started
    train_rows, validation_rows = _split(samples, instances)
    selected_mask = samples.selected[train_rows] > 0
    selected_features = samples.features[train_rows][selected_mask]
    feature_mean = selected_features.mean(axis=0).astype(np.float64)
    feature_std = np.maximum(selected_features.std(axis=0), 1e-6).astype(np.float64)

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    features = torch.from_numpy((samples.features - feature_mean) / feature_std).float()
    selected = torch.from_numpy(samples.selected)
    items = torch.from_numpy(samples.items)
    target = torch.from_numpy(samples.target)

    def mlp(sizes: Sequence[int], last_relu: bool) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2 or last_relu:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    item_net = mlp((FEATURES, *ITEM_SIZES), last_relu=True)
    pooled_net = mlp((ITEM_SIZES[-1], *POOLED_SIZES, 1), last_relu=False)
    parameters = [*item_net.parameters(), *pooled_net.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)

    def forward(rows: torch.Tensor) -> torch.Tensor:
        embedding = item_net(features[rows]) * selected[rows].unsqueeze(-1)
        pooled = embedding.sum(dim=1) / items[rows].unsqueeze(-1)
        out: torch.Tensor = pooled_net(pooled).squeeze(-1)
        return out

    def validation_loss() -> float:
        with torch.no_grad():
            rows = torch.from_numpy(validation_rows)
            return float(torch.mean((forward(rows) - target[rows]) ** 2))

    train_index = torch.from_numpy(train_rows)
    history: list[float] = []
    for epoch in range(epochs):
        order = train_index[torch.randperm(train_index.numel(), generator=generator)]
        total = 0.0
        for start in range(0, order.numel(), batch_size):
            rows = order[start : start + batch_size]
            loss = torch.mean((forward(rows) - target[rows]) ** 2)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += float(loss.detach()) * rows.numel()
        schedule.step()
        history.append(validation_loss())
        log(f"epoch {epoch + 1}/{epochs} train MSE {total / order.numel():.3e} validation MSE {history[-1]:.3e}")

    def layers(net: torch.nn.Sequential) -> tuple[Layer, ...]:
        return tuple(
            Layer(module.weight.detach().double().numpy().copy(), module.bias.detach().double().numpy().copy())
            for module in net
            if isinstance(module, torch.nn.Linear)
        )

    validation_target = samples.target[validation_rows]
    metadata: dict[str, Any] = {
        "command": (
            "python -m solvers.knapsack_2ro.learned.train "
            f"--seed {seed} --instances {instances} --selections {selections} --scenarios {scenarios} "
            f"--epochs {epochs} --batch-size {batch_size} --learning-rate {learning_rate}"
        ),
        "seed": seed,
        "training_seeds": [TRAINING_SEEDS[0], TRAINING_SEEDS[instances - 1]],
        "instances": instances,
        "selections": selections,
        "scenarios": scenarios,
        "labels": int(samples.target.size),
        "validation_labels": int(validation_rows.size),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "learning_rate_schedule": "cosine annealing to 0 over the epochs",
        "item_sizes": list(ITEM_SIZES),
        "pooled_sizes": list(POOLED_SIZES),
        "validation_mse": history[-1],
        "validation_target_variance": float(validation_target.var()),
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(time.perf_counter() - started - data_seconds, 1),
        "torch": torch.__version__,
    }
    network = ValueNetwork(
        item_layers=layers(item_net),
        pooled_layers=layers(pooled_net),
        feature_mean=feature_mean,
        feature_std=feature_std,
        metadata=metadata,
    )
    network.save(Path(output_path))
    return metadata


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train and write the weights."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", type=int, default=800)
    parser.add_argument("--selections", type=int, default=5)
    parser.add_argument("--scenarios", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    metadata = train(
        args.output,
        seed=args.seed,
        instances=args.instances,
        selections=args.selections,
        scenarios=args.scenarios,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        workers=args.workers,
    )
    print({key: metadata[key] for key in ("validation_mse", "labels", "data_seconds", "train_seconds")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
