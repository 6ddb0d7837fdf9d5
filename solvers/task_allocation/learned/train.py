"""Training of the allocation policy (torch) and export of its weights to an .npz file.

1. Labels: ``exact`` solves training instances (seeds :data:`~.data.TRAINING_SEEDS`, drawn by
   :func:`~.data.recipe`) and its proven-optimal allocations are kept (:func:`~.data.exact_labels`).
2. Imitation: the policy is trained by cross-entropy to put each agent where the optimum puts it
   (a task, or nowhere) — a warm start in the paper's terms.
3. Reinforcement (:func:`reinforce`): REINFORCE on fresh training instances (the seeds after the
   labelled ones; no labels needed). Each episode samples stage-1 pre-assignments of an instance from
   the policy; the total return of a sample is the profit of its pools as drawn (the pools that cover
   their task earn its reward less their cost, the others are released: :func:`~.search.screen`), in
   units of the instance's fractional profit bound; the baseline is the mean return of the episode's
   samples, and the policy ascends Σ (return − baseline) · log π(sample).

Reproduce the committed weights (the command recorded in their metadata):

    solvent train task_allocation            # = python -m solvers.task_allocation.learned.train

Torch is imported here only; the solver reads the exported numpy weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from solvers.task_allocation.learned.data import TRAINING_SEEDS, Label, exact_labels, recipe
from solvers.task_allocation.learned.network import (
    AGENT_FEATURES,
    PAIR_FEATURES,
    TASK_FEATURES,
    WEIGHTS_PATH,
    Features,
    Policy,
    features,
)
from solvers.task_allocation.learned.search import screen

#: Width of the pair embedding and number of attention-mixing layers.
WIDTH = 32
LAYERS = 2
#: Share of the labelled instances kept for validation (the last ones).
VALIDATION_SHARE = 0.1
#: Reinforcement defaults: episodes (one fresh instance each), samples per episode, instances per step.
RL_EPISODES = 1000
RL_SAMPLES = 16
RL_BATCH = 8
RL_LEARNING_RATE = 1e-4


def load_labels(path: Path) -> list[Label]:
    """Labels saved by :func:`save_labels`."""
    return [Label(**item) for item in json.loads(path.read_text())]


def save_labels(labels: list[Label], path: Path) -> None:
    """Write labels as JSON."""
    path.write_text(json.dumps([asdict(label) for label in labels]))


def _batch(items: list[tuple[Features, list[int]]]) -> dict[str, np.ndarray]:
    """Pad instances to the largest agents × tasks of the batch; label T_max means "unassigned"."""
    agents = max(f.agent.shape[0] for f, _ in items)
    tasks = max(f.task.shape[0] for f, _ in items)
    size = len(items)
    out = {
        "pair": np.zeros((size, agents, tasks, PAIR_FEATURES), np.float32),
        "agent": np.zeros((size, agents, AGENT_FEATURES), np.float32),
        "task": np.zeros((size, tasks, TASK_FEATURES), np.float32),
        "mask": np.zeros((size, agents, tasks), bool),
        "valid": np.zeros((size, agents), bool),
        "label": np.full((size, agents), tasks, np.int64),
    }
    for b, (f, label) in enumerate(items):
        a, t = f.agent.shape[0], f.task.shape[0]
        out["pair"][b, :a, :t] = f.pair
        out["agent"][b, :a] = f.agent
        out["task"][b, :t] = f.task
        out["mask"][b, :a, :t] = f.allowed
        out["valid"][b, :a] = True
        out["label"][b, :a] = [j if j >= 0 else tasks for j in label]
    return out


def build_model(torch: Any, width: int, layers: int) -> Any:
    """The torch twin of :meth:`Policy.logits` (same parameter names as the exported weights)."""
    nn = torch.nn

    class PolicyNet(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed_pair = nn.Linear(PAIR_FEATURES, width)
            self.embed_agent = nn.Linear(AGENT_FEATURES, width, bias=False)
            self.embed_task = nn.Linear(TASK_FEATURES, width, bias=False)
            self.mix = nn.ModuleList()
            for _ in range(layers):
                block = nn.Module()
                block.agent_query = nn.Linear(width, 1, bias=False)
                block.task_query = nn.Linear(width, 1, bias=False)
                block.h = nn.Linear(width, width)
                block.agent = nn.Linear(width, width, bias=False)
                block.task = nn.Linear(width, width, bias=False)
                block.glob = nn.Linear(width, width, bias=False)
                self.mix.append(block)
            self.out_query = nn.Linear(width, 1, bias=False)
            self.out_pair_hidden = nn.Linear(width, width)
            self.out_pair = nn.Linear(width, 1)
            self.out_none_hidden = nn.Linear(width, width)
            self.out_none = nn.Linear(width, 1)

        @staticmethod
        def softmax(scores: Any, mask: Any, dim: int) -> Any:
            filled = scores.masked_fill(~mask, -1e9)
            weights = torch.exp(filled - filled.amax(dim=dim, keepdim=True)) * mask
            return weights / weights.sum(dim=dim, keepdim=True).clamp_min(1e-30)

        def forward(self, batch: dict[str, Any]) -> Any:
            mask = batch["mask"]
            m = mask.unsqueeze(-1).float()
            h = (
                torch.relu(
                    self.embed_pair(batch["pair"])
                    + self.embed_agent(batch["agent"]).unsqueeze(2)
                    + self.embed_task(batch["task"]).unsqueeze(1)
                )
                * m
            )
            count = mask.sum(dim=(1, 2)).clamp_min(1).float()
            for block in self.mix:
                over_tasks = self.softmax(block.agent_query(h).squeeze(-1), mask, 2)
                over_agents = self.softmax(block.task_query(h).squeeze(-1), mask, 1)
                agent_context = torch.einsum("bat,batd->bad", over_tasks, h)
                task_context = torch.einsum("bat,batd->btd", over_agents, h)
                global_context = h.sum(dim=(1, 2)) / count.unsqueeze(-1)
                update = (
                    block.h(h)
                    + block.agent(agent_context).unsqueeze(2)
                    + block.task(task_context).unsqueeze(1)
                    + block.glob(global_context)[:, None, None, :]
                )
                h = (h + torch.relu(update)) * m
            over_tasks = self.softmax(self.out_query(h).squeeze(-1), mask, 2)
            agent_context = torch.einsum("bat,batd->bad", over_tasks, h)
            pair_logit = self.out_pair(torch.relu(self.out_pair_hidden(h))).squeeze(-1).masked_fill(~mask, -1e9)
            none_logit = self.out_none(torch.relu(self.out_none_hidden(agent_context)))
            return torch.cat([pair_logit, none_logit], dim=2)

        def export(self) -> dict[str, np.ndarray]:
            def t(linear: Any) -> np.ndarray:
                return np.asarray(linear.weight.detach().cpu().numpy().T, dtype=np.float32)

            def b(linear: Any) -> np.ndarray:
                return np.asarray(linear.bias.detach().cpu().numpy(), dtype=np.float32)

            out = {
                "embed_pair": t(self.embed_pair),
                "embed_agent": t(self.embed_agent),
                "embed_task": t(self.embed_task),
                "embed_bias": b(self.embed_pair),
                "out_query": t(self.out_query),
                "out_pair_hidden": t(self.out_pair_hidden),
                "out_pair_bias": b(self.out_pair_hidden),
                "out_pair": t(self.out_pair),
                "out_pair_offset": b(self.out_pair),
                "out_none_hidden": t(self.out_none_hidden),
                "out_none_bias": b(self.out_none_hidden),
                "out_none": t(self.out_none),
                "out_none_offset": b(self.out_none),
            }
            for k, block in enumerate(self.mix):
                p = f"mix_{k}_"
                out[p + "agent_query"] = t(block.agent_query)
                out[p + "task_query"] = t(block.task_query)
                out[p + "h"] = t(block.h)
                out[p + "bias"] = b(block.h)
                out[p + "agent"] = t(block.agent)
                out[p + "task"] = t(block.task)
                out[p + "global"] = t(block.glob)
            return out

    return PolicyNet()


def reinforce(
    model: Any,
    torch: Any,
    normalised: Any,
    seeds: list[int],
    samples: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: str,
    log: Any = print,
) -> list[float]:
    """REINFORCE with a mean baseline on ``seeds`` (one episode each); the mean return of every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    returns: list[float] = []
    for start in range(0, len(seeds), batch_size):
        instances = [recipe(s).instance() for s in seeds[start : start + batch_size]]
        inputs = [features(instance) for instance in instances]
        batch = normalised(_batch([(f, [-1] * f.agent.shape[0]) for f in inputs]))
        model.train()
        log_probabilities = torch.log_softmax(model(batch), dim=2)  # (instances, agents, tasks + 1)
        n_tasks = log_probabilities.shape[2] - 1
        draws = torch.multinomial(
            log_probabilities.detach().exp().reshape(-1, n_tasks + 1).cpu(),
            samples,
            replacement=True,
            generator=generator,
        ).reshape(len(instances), -1, samples)  # (instances, agents, samples)
        draws = draws.to(log_probabilities.device)
        taken = torch.gather(log_probabilities, 2, draws)  # (instances, agents, samples)
        loss = torch.zeros((), device=log_probabilities.device)
        step_returns = []
        for b, (instance, f) in enumerate(zip(instances, inputs, strict=True)):
            agents = f.agent.shape[0]
            choices = draws[b, :agents].T.cpu().numpy().astype(np.int64)  # (samples, agents)
            choices[choices >= instance.n_tasks] = -1  # the padded "unassigned" column
            value = screen(instance, choices) / max(f.profit_bound, 1e-9)
            advantage = torch.from_numpy(value - value.mean()).float().to(log_probabilities.device)
            loss = loss - (taken[b, :agents].sum(dim=0) * advantage).mean()
            step_returns.append(float(value.mean()))
        optimizer.zero_grad()
        (loss / len(instances)).backward()
        optimizer.step()
        returns.append(float(np.mean(step_returns)))
        log(f"reinforce episodes {start + len(instances)}/{len(seeds)} mean return {returns[-1]:.4f}")
    return returns


def train(
    output_path: Path | str = WEIGHTS_PATH,
    seed: int = 0,
    instances: int = 4099,
    labels_path: Path | None = None,
    exact_time_limit_s: float = 20.0,
    epochs: int = 40,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    workers: int = 2,
    device: str = "cpu",
    width: int = WIDTH,
    layers: int = LAYERS,
    rl_episodes: int = RL_EPISODES,
    rl_samples: int = RL_SAMPLES,
    rl_batch: int = RL_BATCH,
    rl_learning_rate: float = RL_LEARNING_RATE,
    log: Any = print,
) -> dict[str, Any]:
    """Label training instances 0..instances−1 (or read ``labels_path``), imitate, reinforce on instances
    instances..instances+rl_episodes−1, export; returns the metadata."""
    import torch

    started = time.perf_counter()
    seeds = list(TRAINING_SEEDS[:instances])
    if labels_path is not None and labels_path.exists():
        wanted = set(seeds)
        labels = [label for label in load_labels(labels_path) if label.seed in wanted]
    else:
        labels = exact_labels(seeds, exact_time_limit_s, workers)
        if labels_path is not None:
            save_labels(labels, labels_path)
    data_seconds = time.perf_counter() - started
    items = [(features(recipe(label.seed).instance()), label.task_of_agent) for label in labels]
    first_validation = len(items) - max(1, round(VALIDATION_SHARE * len(items)))
    training, validation = items[:first_validation], items[first_validation:]

    def stats(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        stacked = np.concatenate(rows)
        return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-3).astype(np.float32)

    pair_mean, pair_std = stats([f.pair[f.allowed] for f, _ in training])
    agent_mean, agent_std = stats([f.agent for f, _ in training])
    task_mean, task_std = stats([f.task for f, _ in training])

    def normalised(batch: dict[str, np.ndarray]) -> dict[str, Any]:
        batch = dict(batch)
        batch["pair"] = (batch["pair"] - pair_mean) / pair_std * batch["mask"][..., None]
        batch["agent"] = (batch["agent"] - agent_mean) / agent_std
        batch["task"] = (batch["task"] - task_mean) / task_std
        return {key: torch.from_numpy(value).to(device) for key, value in batch.items()}

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")  # CPU runs are the reproducible ones
    model = build_model(torch, width, layers).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = np.random.default_rng(seed)
    # batches of similar sizes pad little: sort by size, cut into batches, shuffle the batches each epoch
    order = sorted(range(len(training)), key=lambda i: (training[i][0].task.shape[0], training[i][0].agent.shape[0]))
    batches = [
        normalised(_batch([training[i] for i in order[s : s + batch_size]])) for s in range(0, len(order), batch_size)
    ]
    validation_batches = [
        normalised(_batch(validation[s : s + batch_size])) for s in range(0, len(validation), batch_size)
    ]

    def loss_and_accuracy(batch: dict[str, Any]) -> tuple[Any, float, int]:
        logits = model(batch)
        valid = batch["valid"]
        loss = torch.nn.functional.cross_entropy(logits[valid], batch["label"][valid], reduction="sum")
        correct = float((logits.argmax(dim=2)[valid] == batch["label"][valid]).sum())
        return loss, correct, int(valid.sum())

    history: list[dict[str, float]] = []
    for epoch in range(epochs):
        model.train()
        total = seen = 0.0
        for index in generator.permutation(len(batches)):
            loss, _, count = loss_and_accuracy(batches[int(index)])
            optimizer.zero_grad()
            (loss / count).backward()
            optimizer.step()
            total += float(loss.detach())
            seen += count
        schedule.step()
        model.eval()
        with torch.no_grad():
            results = [loss_and_accuracy(batch) for batch in validation_batches]
        agents = sum(r[2] for r in results)
        record = {
            "train_loss": total / max(seen, 1),
            "validation_loss": sum(float(r[0]) for r in results) / max(agents, 1),
            "validation_accuracy": sum(r[1] for r in results) / max(agents, 1),
        }
        history.append(record)
        log(f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k} {v:.4f}" for k, v in record.items()))

    rl_seeds = list(TRAINING_SEEDS[instances : instances + rl_episodes])
    rl_returns = reinforce(
        model, torch, normalised, rl_seeds, rl_samples, rl_batch, rl_learning_rate, seed, device, log
    )
    weights = model.export()
    weights.update(
        pair_mean=pair_mean,
        pair_std=pair_std,
        agent_mean=agent_mean,
        agent_std=agent_std,
        task_mean=task_mean,
        task_std=task_std,
    )
    metadata: dict[str, Any] = {
        "command": (
            f"solvent train task_allocation --seed {seed} --instances {instances} "
            f"--exact-time-limit {exact_time_limit_s:g} --epochs {epochs} --batch-size {batch_size} "
            f"--learning-rate {learning_rate:g} --width {width} --layers {layers} --device {device} "
            f"--rl-episodes {rl_episodes} --rl-samples {rl_samples} --rl-batch {rl_batch} "
            f"--rl-learning-rate {rl_learning_rate:g}"
        ),
        "method": "imitation of exact's proven optima (per-agent cross-entropy), then REINFORCE with a mean "
        "baseline on the total return of sampled pre-assignments",
        "reinforce": {
            "episodes": rl_episodes,
            "samples": rl_samples,
            "batch": rl_batch,
            "learning_rate": rl_learning_rate,
            "seeds": [rl_seeds[0], rl_seeds[-1]] if rl_seeds else [],
            "mean_return_first_steps": round(float(np.mean(rl_returns[:5])), 6) if rl_returns else None,
            "mean_return_last_steps": round(float(np.mean(rl_returns[-5:])), 6) if rl_returns else None,
        },
        "seed": seed,
        "training_seeds": [TRAINING_SEEDS[0], TRAINING_SEEDS[instances + rl_episodes - 1]],
        "instances": instances,
        "labelled_instances": len(labels),
        "validation_instances": len(validation),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "width": width,
        "layers": layers,
        "final": history[-1] if history else {},
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(time.perf_counter() - started - data_seconds, 1),
        "device": device,
        "torch": torch.__version__,
    }
    policy = Policy(weights=weights, metadata=metadata)
    _check_export(model, policy, items[0], normalised, torch)
    policy.save(Path(output_path))
    return metadata


def _check_export(model: Any, policy: Policy, item: tuple[Features, list[int]], normalised: Any, torch: Any) -> None:
    """The numpy forward pass of the exported weights must give the torch model's logits."""
    model.eval()
    with torch.no_grad():
        expected = model(normalised(_batch([item])))[0].cpu().numpy()
    pair_logit, none_logit = policy.logits(item[0])
    got = np.concatenate([pair_logit, none_logit[:, None]], axis=1)
    allowed = np.concatenate([item[0].allowed, np.ones((got.shape[0], 1), bool)], axis=1)
    difference = float(np.abs(expected[allowed] - got[allowed]).max(initial=0.0))
    if difference > 1e-3:
        raise AssertionError(f"exported weights disagree with the trained model by {difference}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: label, train and write the weights."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", type=int, default=4099, help="training instances (labelled by exact)")
    parser.add_argument("--labels", type=Path, default=None, help="JSON cache of exact labels (read, or written)")
    parser.add_argument("--exact-time-limit", type=float, default=20.0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--layers", type=int, default=LAYERS)
    parser.add_argument("--rl-episodes", type=int, default=RL_EPISODES, help="reinforcement episodes (instances)")
    parser.add_argument("--rl-samples", type=int, default=RL_SAMPLES, help="sampled pre-assignments per episode")
    parser.add_argument("--rl-batch", type=int, default=RL_BATCH, help="episodes per gradient step")
    parser.add_argument("--rl-learning-rate", type=float, default=RL_LEARNING_RATE)
    args = parser.parse_args(argv)
    metadata = train(
        args.output,
        seed=args.seed,
        instances=args.instances,
        labels_path=args.labels,
        exact_time_limit_s=args.exact_time_limit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        workers=args.workers,
        device=args.device,
        width=args.width,
        layers=args.layers,
        rl_episodes=args.rl_episodes,
        rl_samples=args.rl_samples,
        rl_batch=args.rl_batch,
        rl_learning_rate=args.rl_learning_rate,
    )
    print({key: metadata[key] for key in ("labelled_instances", "final", "data_seconds", "train_seconds")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
