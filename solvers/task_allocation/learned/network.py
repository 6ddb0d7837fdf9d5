"""The allocation policy in numpy: pair, agent and task features, the weights and the forward pass.

The policy scores every allowed (agent, task) pair and "stay unassigned" for every agent; a softmax over
an agent's row is its pre-assignment distribution (stage 1 of Gong et al., 2024). It is size-independent:
every feature is a ratio or a count share (whatever the number of agents, tasks or capabilities), and the
layers mix information by attention pooling over an agent's tasks and over a task's agents:

    h⁰_ij = ReLU(P_ij Wp + X_i Wa + Y_j Wt + b)                         (pair embedding, size d)
    α_i = Σ_j softmax_j(h_ij·u) h_ij,  τ_j = Σ_i softmax_i(h_ij·v) h_ij   (attention over tasks / agents)
    h_ij ← h_ij + ReLU(h_ij W₁ + α_i W₂ + τ_j W₃ + mean(h) W₄ + b)       (per layer, residual)
    logit_ij = w·ReLU(h_ij O + c) + e,   logit_i∅ = w'·ReLU(α_i O' + c') + e'

Only allowed pairs (the agent has a capability the task needs and costs less than its reward there)
take part; the rest are masked out everywhere. Inference runs in float32.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from solvers.task_allocation.allocation import BoolArray, allowed_pairs
from solvers.task_allocation.schema import Instance, cover_slack

Array = npt.NDArray[np.float32]

#: The committed trained weights (``solvent train task_allocation`` reproduces them).
WEIGHTS_PATH = Path(__file__).with_name("weights.npz")
PAIR_FEATURES = 10
AGENT_FEATURES = 5
TASK_FEATURES = 7
#: Column of the pair features holding log(1 + reward share per unit of cost).
VALUE_FEATURE = 4
#: Most candidate tasks per agent in the policy's pass (the training instances have at most 15 tasks).
TASKS_PER_AGENT = 16
#: Masked logits.
NEGATIVE = -1e9


class OutOfTime(Exception):
    """Raised by an interruptible stage when its ``should_stop`` says the time is up or the job cancelled."""


def _checkpoint(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise OutOfTime


@dataclass(frozen=True)
class Features:
    """Inputs of the policy for one instance."""

    pair: Array  # (agents, tasks, PAIR_FEATURES)
    agent: Array  # (agents, AGENT_FEATURES)
    task: Array  # (tasks, TASK_FEATURES)
    allowed: BoolArray  # (agents, tasks)
    profit_bound: float  # Σ_j max(0, reward_j − lower bound on a covering coalition's cost): no allocation earns more


def _rank_share(values: npt.NDArray[np.float64], mask: BoolArray, axis: int) -> npt.NDArray[np.float64]:
    """Per entry, the share of masked entries along ``axis`` with a strictly larger value (0: the best)."""
    filled = np.where(mask, values, -np.inf)
    order = np.argsort(-filled, axis=axis, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(
        ranks, order, np.arange(values.shape[axis]).reshape([-1 if a == axis else 1 for a in range(2)]), axis
    )
    count = np.maximum(mask.sum(axis=axis, keepdims=True), 1)
    return np.where(mask, ranks / count, 1.0)


def cover_cost_bound(
    instance: Instance, allowed: BoolArray, should_stop: Callable[[], bool] | None = None
) -> npt.NDArray[np.float64]:
    """Per task, the cheapest fractional cover of its scarcest requirement by allowed agents (∞: none can).

    The same lower bound on a covering coalition's cost as
    :func:`solvers.task_allocation.allocation.coalition_cost_bound`, vectorised over tasks: per
    capability k, the allowed agents sorted by cost per unit of k, filled up to the requirement.
    """
    n_agents, n_tasks = allowed.shape
    requirement, capability, cost = instance.task_requirement, instance.agent_capability, instance.assign_cost
    if n_agents == 0:
        return np.where((requirement > 0).any(axis=1), np.inf, 0.0)
    bound = np.zeros(n_tasks)
    for k in np.flatnonzero((requirement > 0).any(axis=0)):
        _checkpoint(should_stop)
        columns = np.flatnonzero(requirement[:, k] > 0)
        target = requirement[columns, k] - cover_slack(requirement[columns, k])
        amount_k = capability[:, k]
        supplying = allowed[:, columns] & (amount_k > 0)[:, None]
        rate = np.where(supplying, cost[:, columns] / np.where(amount_k > 0, amount_k, 1.0)[:, None], np.inf)
        order = np.argsort(rate, axis=0, kind="stable")
        rate = np.take_along_axis(rate, order, axis=0)
        amount = np.where(np.isfinite(rate), amount_k[order], 0.0)
        filled = np.cumsum(amount, axis=0)
        spent = np.cumsum(np.where(amount > 0, rate, 0.0) * amount, axis=0)
        last = (filled < target[None, :]).sum(axis=0)
        reachable = last < supplying.sum(axis=0)
        index = np.arange(columns.size)
        previous = np.maximum(last - 1, 0)
        before = np.where(last > 0, filled[previous, index], 0.0)
        paid = np.where(last > 0, spent[previous, index], 0.0)
        marginal = rate[np.minimum(last, n_agents - 1), index]
        value = np.full(columns.size, np.inf)
        value[reachable] = paid[reachable] + np.maximum(target - before, 0.0)[reachable] * marginal[reachable]
        bound[columns] = np.maximum(bound[columns], value)
    return bound


def features(instance: Instance, should_stop: Callable[[], bool] | None = None) -> Features:
    """Scale-free features (costs and rewards in units of the mean reward, capabilities per requirement).

    ``should_stop`` is polled between stages; when it returns True :class:`OutOfTime` is raised.
    """
    n_agents, n_tasks = instance.n_agents, instance.n_tasks
    allowed = allowed_pairs(instance)
    reward = instance.task_reward
    scale = max(float(reward.mean()) if n_tasks else 1.0, 1e-9)
    cost = instance.assign_cost
    requirement, capability = instance.task_requirement, instance.agent_capability
    needs = requirement > 0
    n_needs = np.maximum(needs.sum(axis=1), 1)
    covered_share = np.zeros((n_agents, n_tasks))
    covered_max = np.zeros((n_agents, n_tasks))
    useful = np.zeros((n_agents, n_tasks))
    # per capability unit: the mean requirement of the tasks that need it (capabilities differ in units)
    unit = np.array(
        [
            float(requirement[needs[:, k], k].mean()) if needs[:, k].any() else 1.0
            for k in range(instance.n_capabilities)
        ]
    )
    normalised = capability / unit
    total = np.maximum(normalised.sum(axis=1), 1e-12)
    for k in range(instance.n_capabilities):
        _checkpoint(should_stop)
        need = requirement[:, k]
        share = np.where(need > 0, np.minimum(capability[:, k : k + 1], need) / np.maximum(need, 1e-300), 0.0)
        covered_share += share
        covered_max = np.maximum(covered_max, share)
        useful += np.where(need > 0, np.minimum(capability[:, k : k + 1], need) / unit[k], 0.0)
    covered_share /= n_needs
    useful /= total[:, None]
    relative_cost = cost / np.maximum(reward, 1e-12)
    value = covered_share / np.maximum(relative_cost, 1e-3)  # share of the reward earned per unit of cost
    bound = cover_cost_bound(instance, allowed, should_stop) if n_tasks else np.zeros(0)
    _checkpoint(should_stop)
    finite = np.isfinite(bound)
    bound_ratio = np.where(finite, bound / np.maximum(reward, 1e-12), 2.0)
    rank_among_agents = _rank_share(value, allowed, axis=0)
    _checkpoint(should_stop)
    rank_among_tasks = _rank_share(value, allowed, axis=1)
    _checkpoint(should_stop)
    columns: list[Callable[[], npt.NDArray[np.float64]]] = [
        lambda: covered_share,
        lambda: covered_max,
        lambda: useful,
        lambda: relative_cost,
        lambda: np.log1p(value),
        lambda: rank_among_agents,
        lambda: rank_among_tasks,
        lambda: cost / np.maximum(np.minimum(bound, 1e12), 1e-9) * finite[None, :],
        lambda: (
            (instance.pair_costs if instance.pair_costs is not None else np.zeros_like(cost))
            / np.maximum(reward, 1e-12)
        ),
        lambda: relative_cost / np.maximum(covered_share, 1e-3) / np.maximum(bound_ratio, 1e-3),
    ]
    pair = np.empty((n_agents, n_tasks, PAIR_FEATURES), dtype=np.float32)
    for column, compute in enumerate(columns):
        pair[:, :, column] = np.minimum(compute(), 10.0)
        _checkpoint(should_stop)
    supply = allowed.T.astype(np.float64) @ capability  # (tasks, capabilities): what allowed agents bring
    supply_ratio = (
        np.where(needs, supply / np.maximum(requirement, 1e-300), np.inf).min(axis=1) if n_tasks else np.zeros(0)
    )
    task = np.column_stack(
        [
            reward / scale,
            n_needs / instance.n_capabilities,
            np.minimum(bound_ratio, 2.0),
            allowed.sum(axis=0) / max(n_agents, 1),
            np.log1p(np.minimum(supply_ratio, 1e6)),
            np.maximum(reward - np.where(finite, bound, reward), 0.0) / scale,
            np.full(n_tasks, n_agents / max(n_tasks, 1) / 10.0),
        ]
    )
    agent = np.column_stack(
        [
            np.minimum(instance.agent_cost / scale, 10.0),
            (capability > 0).sum(axis=1) / instance.n_capabilities,
            allowed.sum(axis=1) / max(n_tasks, 1),
            np.log1p(np.where(allowed, value, 0.0).max(axis=1, initial=0.0)),
            np.minimum(total / instance.n_capabilities, 10.0),
        ]
    )
    return Features(
        pair=pair,
        agent=agent.astype(np.float32).reshape(n_agents, AGENT_FEATURES),
        task=task.astype(np.float32).reshape(n_tasks, TASK_FEATURES),
        allowed=allowed,
        profit_bound=float(np.maximum(reward - np.where(finite, bound, reward), 0.0).sum()),
    )


def candidate_pairs(inputs: Features, tasks_per_agent: int = TASKS_PER_AGENT) -> BoolArray:
    """Allowed pairs, at most ``tasks_per_agent`` per agent: those with the largest reward share per cost."""
    allowed = inputs.allowed
    if allowed.shape[1] <= tasks_per_agent:
        return allowed
    value = np.where(allowed, inputs.pair[:, :, VALUE_FEATURE], -np.inf)
    best = np.argpartition(-value, tasks_per_agent - 1, axis=1)[:, :tasks_per_agent]
    keep = np.zeros_like(allowed)
    np.put_along_axis(keep, best, True, axis=1)
    return keep & allowed


def _relu(x: npt.NDArray[np.floating[Any]]) -> Array:
    out: Array = np.maximum(x, 0.0).astype(np.float32, copy=False)
    return out


@dataclass(frozen=True)
class Policy:
    """The trained weights (names as written by the trainer) and their metadata."""

    weights: dict[str, Array]
    metadata: dict[str, object]

    @property
    def layers(self) -> int:
        """Number of attention-mixing layers."""
        return sum(1 for name in self.weights if name.startswith("mix_") and name.endswith("_h"))

    def logits(
        self,
        inputs: Features,
        tasks_per_agent: int = TASKS_PER_AGENT,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[Array, Array]:
        """Pair logits (agents × tasks, −1e9 off the candidate pairs) and the agents' "unassigned" logits.

        Candidate pairs are the allowed ones, at most ``tasks_per_agent`` per agent (those with the best
        reward share per unit of cost); the training instances have fewer tasks, so there all allowed
        pairs are candidates. The pass runs on the candidate pairs only (sparse), so its cost grows with
        agents × ``tasks_per_agent``, not agents × tasks. ``should_stop`` is polled between layers
        (:class:`OutOfTime` when it returns True).
        """
        w = self.weights
        mask = candidate_pairs(inputs, tasks_per_agent)
        n_agents, n_tasks = mask.shape
        agents, tasks = np.nonzero(mask)
        n_pairs = agents.size
        pair = (inputs.pair[agents, tasks] - w["pair_mean"]) / w["pair_std"]
        agent = (inputs.agent - w["agent_mean"]) / w["agent_std"]
        task = (inputs.task - w["task_mean"]) / w["task_std"]
        h = _relu(
            pair @ w["embed_pair"]
            + (agent @ w["embed_agent"])[agents]
            + (task @ w["embed_task"])[tasks]
            + w["embed_bias"]
        )
        of_agent = sp.csr_matrix(
            (np.ones(n_pairs, np.float32), (agents, np.arange(n_pairs))), shape=(n_agents, n_pairs)
        )
        of_task = sp.csr_matrix((np.ones(n_pairs, np.float32), (tasks, np.arange(n_pairs))), shape=(n_tasks, n_pairs))

        def pool(scores: Array, group: npt.NDArray[np.int64], members: sp.csr_matrix, size: int) -> Array:
            """Σ over each group's pairs of softmax(scores) · h (zeros for a group without pairs)."""
            top = np.full(size, -np.inf, dtype=np.float32)
            np.maximum.at(top, group, scores)
            weights = np.exp(scores - top[group])
            total = np.bincount(group, weights=weights, minlength=size)[group]
            weighted = h * (weights / np.maximum(total, 1e-30)).astype(np.float32)[:, None]
            return np.asarray(members @ weighted, dtype=np.float32)

        for layer in range(self.layers):
            _checkpoint(should_stop)
            p = f"mix_{layer}_"
            agent_context = pool((h @ w[p + "agent_query"])[:, 0], agents, of_agent, n_agents)
            task_context = pool((h @ w[p + "task_query"])[:, 0], tasks, of_task, n_tasks)
            global_context = h.sum(axis=0) / np.float32(max(n_pairs, 1))
            update = h @ w[p + "h"] + (agent_context @ w[p + "agent"])[agents] + (task_context @ w[p + "task"])[tasks]
            update += global_context @ w[p + "global"] + w[p + "bias"]
            h = h + _relu(update)
        _checkpoint(should_stop)
        agent_context = pool((h @ w["out_query"])[:, 0], agents, of_agent, n_agents)
        scores = (_relu(h @ w["out_pair_hidden"] + w["out_pair_bias"]) @ w["out_pair"] + w["out_pair_offset"])[:, 0]
        none_logit = (
            _relu(agent_context @ w["out_none_hidden"] + w["out_none_bias"]) @ w["out_none"] + w["out_none_offset"]
        )
        pair_logit = np.full((n_agents, n_tasks), np.float32(NEGATIVE), dtype=np.float32)
        pair_logit[agents, tasks] = scores
        return pair_logit, np.asarray(none_logit[:, 0], dtype=np.float32)

    def probabilities(self, instance: Instance) -> tuple[Array, BoolArray]:
        """Per agent, the distribution over tasks (columns 0..T−1) and "unassigned" (column T); the mask."""
        inputs = features(instance)
        pair_logit, none_logit = self.logits(inputs)
        logits = np.concatenate([pair_logit, none_logit[:, None]], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return np.asarray(weights / weights.sum(axis=1, keepdims=True), dtype=np.float32), inputs.allowed

    def save(self, path: Path) -> None:
        """Write the weights and the metadata (as JSON text) to an .npz file."""
        arrays: dict[str, npt.NDArray[np.generic]] = {"metadata": np.array(json.dumps(self.metadata, sort_keys=True))}
        arrays.update(self.weights)
        np.savez_compressed(path, allow_pickle=False, **arrays)

    @staticmethod
    def load(path: Path = WEIGHTS_PATH) -> Policy:
        """Read weights written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as stored:
            weights = {name: np.asarray(stored[name], dtype=np.float32) for name in stored.files if name != "metadata"}
            return Policy(weights=weights, metadata=json.loads(str(stored["metadata"])))
