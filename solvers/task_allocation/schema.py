"""Instance and solution models of the ``task_allocation`` kind, the parser and its size caps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solvers.base import JSON, InvalidInstance, errors_from_validation

FloatArray = npt.NDArray[np.float64]

#: Most agents an instance may have.
MAX_AGENTS = 5_000
#: Most tasks an instance may have.
MAX_TASKS = 1_000
#: Most capabilities (length of every capability and requirement vector).
MAX_CAPABILITIES = 64
#: Most cells of ``agents × tasks`` (bounds the pair-cost matrix and every model built on it).
MAX_AGENT_TASK_PAIRS = 2_000_000
#: Largest absolute value of any number in an instance.
MAX_ABS_VALUE = 1e12
#: Longest id or capability name.
MAX_NAME_LENGTH = 200
#: The one coverage rule of the kind, used alike by ``check``, the heuristics and the ``exact`` model:
#: a requirement q counts as covered by a supply s when s ≥ q − COVER_TOLERANCE · max(1, q).
COVER_TOLERANCE = 1e-9


def cover_slack(requirement: npt.ArrayLike) -> FloatArray:
    """How far below each requirement a supply may fall and still count as covering it."""
    return COVER_TOLERANCE * np.maximum(1.0, np.asarray(requirement, dtype=np.float64))


class AgentModel(BaseModel):
    """An agent: a fixed cost paid when it is assigned, and its capability vector."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    cost: float = Field(0.0, ge=0, le=MAX_ABS_VALUE, description="Paid when the agent is assigned to a task.")
    capabilities: list[float] = Field(max_length=MAX_CAPABILITIES, description="One entry per capability, ≥ 0.")


class TaskModel(BaseModel):
    """A task: the reward paid when its coalition covers its requirement vector."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    reward: float = Field(ge=0, le=MAX_ABS_VALUE, description="Paid when the task is completed.")
    requirements: list[float] = Field(max_length=MAX_CAPABILITIES, description="One entry per capability, ≥ 0.")


class InstanceModel(BaseModel):
    """The raw JSON instance of API.md's ``task_allocation`` kind."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    capabilities: list[str] = Field(min_length=1, max_length=MAX_CAPABILITIES)
    agents: list[AgentModel] = Field(max_length=MAX_AGENTS)
    tasks: list[TaskModel] = Field(max_length=MAX_TASKS)
    pair_costs: list[list[float]] | None = Field(
        None,
        description="pair_costs[agent][task] ≥ 0, added to the agent's cost when it serves that task.",
    )


class SolutionModel(BaseModel):
    """A solution: the agents serving each task and the tasks claimed completed."""

    model_config = ConfigDict(extra="forbid")

    assignments: dict[str, list[str]] = Field(description="task id -> ids of the agents serving it.")
    completed: list[str] = Field(description="ids of the tasks whose coalition covers every requirement.")


@dataclass(frozen=True)
class Instance:
    """A validated instance as arrays: agents are rows, tasks columns, capabilities the last axis."""

    capabilities: list[str]
    agent_ids: list[str]
    task_ids: list[str]
    agent_cost: FloatArray  # (agents,)
    agent_capability: FloatArray  # (agents, capabilities)
    task_reward: FloatArray  # (tasks,)
    task_requirement: FloatArray  # (tasks, capabilities)
    pair_costs: FloatArray | None  # (agents, tasks) or None
    assign_cost: FloatArray = field(init=False)  # (agents, tasks): agent cost + pair cost

    def __post_init__(self) -> None:
        cost = np.repeat(self.agent_cost[:, None], len(self.task_ids), axis=1)
        if self.pair_costs is not None:
            cost = cost + self.pair_costs
        object.__setattr__(self, "assign_cost", cost)

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return len(self.agent_ids)

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.task_ids)

    @property
    def n_capabilities(self) -> int:
        """Number of capabilities."""
        return len(self.capabilities)


def _duplicates(names: list[str]) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        positions.setdefault(name, []).append(index)
    return {name: where for name, where in positions.items() if len(where) > 1}


def _semantic_errors(model: InstanceModel) -> list[JSON]:
    """Cross-field problems pydantic cannot see: unique ids, vector lengths, signs, pair-cost shape."""
    errors: list[JSON] = []
    n_caps = len(model.capabilities)
    for name, where in _duplicates(model.capabilities).items():
        for index in where[1:]:
            errors.append({"loc": ["capabilities", index], "msg": f"capability {name!r} is listed twice"})
    for collection, items in (("agents", model.agents), ("tasks", model.tasks)):
        for name, where in _duplicates([item.id for item in items]).items():
            for index in where[1:]:
                errors.append(
                    {
                        "loc": [collection, index, "id"],
                        "msg": f"id {name!r} is already used at index {where[0]}",
                    }
                )
    for index, agent in enumerate(model.agents):
        if len(agent.capabilities) != n_caps:
            errors.append(
                {
                    "loc": ["agents", index, "capabilities"],
                    "msg": f"has {len(agent.capabilities)} entries; give one per capability ({n_caps})",
                }
            )
        errors.extend(_vector_errors(agent.capabilities, ["agents", index, "capabilities"]))
    for index, task in enumerate(model.tasks):
        if len(task.requirements) != n_caps:
            errors.append(
                {
                    "loc": ["tasks", index, "requirements"],
                    "msg": f"has {len(task.requirements)} entries; give one per capability ({n_caps})",
                }
            )
        errors.extend(_vector_errors(task.requirements, ["tasks", index, "requirements"]))
    n_agents, n_tasks = len(model.agents), len(model.tasks)
    if n_agents * n_tasks > MAX_AGENT_TASK_PAIRS:
        errors.append(
            {
                "loc": ["agents"],
                "msg": f"{n_agents} agents × {n_tasks} tasks = {n_agents * n_tasks} pairs exceeds the limit "
                f"MAX_AGENT_TASK_PAIRS = {MAX_AGENT_TASK_PAIRS}; split the instance",
            }
        )
    elif model.pair_costs is not None:
        errors.extend(_pair_cost_errors(model.pair_costs, n_agents, n_tasks))
    return errors


def _vector_errors(values: list[float], loc: list[str | int]) -> list[JSON]:
    errors: list[JSON] = []
    for k, value in enumerate(values):
        if not (0 <= value <= MAX_ABS_VALUE):
            errors.append({"loc": [*loc, k], "msg": f"must be between 0 and {MAX_ABS_VALUE:g}, got {value}"})
    return errors


def _pair_cost_errors(pair_costs: list[list[float]], n_agents: int, n_tasks: int) -> list[JSON]:
    if len(pair_costs) != n_agents:
        return [
            {
                "loc": ["pair_costs"],
                "msg": f"has {len(pair_costs)} rows; give one row per agent ({n_agents}) or null",
            }
        ]
    errors: list[JSON] = []
    for i, row in enumerate(pair_costs):
        if len(row) != n_tasks:
            errors.append({"loc": ["pair_costs", i], "msg": f"has {len(row)} entries; give one per task ({n_tasks})"})
            continue
        for j, value in enumerate(row):
            if not (0 <= value <= MAX_ABS_VALUE):
                errors.append(
                    {
                        "loc": ["pair_costs", i, j],
                        "msg": f"must be between 0 and {MAX_ABS_VALUE:g}, got {value}",
                    }
                )
    return errors


def parse(raw: Any) -> Instance:
    """Validate a raw JSON instance; raises :class:`InvalidInstance` listing every problem."""
    try:
        model = InstanceModel.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInstance(errors_from_validation(exc)) from None
    errors = _semantic_errors(model)
    if errors:
        raise InvalidInstance(errors)
    n_caps = len(model.capabilities)
    pair_costs = None
    if model.pair_costs is not None:
        pair_costs = np.array(model.pair_costs, dtype=np.float64).reshape(len(model.agents), len(model.tasks))
    return Instance(
        capabilities=list(model.capabilities),
        agent_ids=[agent.id for agent in model.agents],
        task_ids=[task.id for task in model.tasks],
        agent_cost=np.array([agent.cost for agent in model.agents], dtype=np.float64),
        agent_capability=np.array([agent.capabilities for agent in model.agents], dtype=np.float64).reshape(
            len(model.agents), n_caps
        ),
        task_reward=np.array([task.reward for task in model.tasks], dtype=np.float64),
        task_requirement=np.array([task.requirements for task in model.tasks], dtype=np.float64).reshape(
            len(model.tasks), n_caps
        ),
        pair_costs=pair_costs,
    )


def summary(instance: Instance) -> JSON:
    """Sizes of an instance."""
    return {
        "agents": instance.n_agents,
        "tasks": instance.n_tasks,
        "capabilities": instance.n_capabilities,
        "pair_costs": instance.pair_costs is not None,
        "total_reward": float(instance.task_reward.sum()),
    }


def to_raw(instance: Instance) -> JSON:
    """The raw JSON form of a parsed instance (inverse of :func:`parse`)."""
    return {
        "capabilities": list(instance.capabilities),
        "agents": [
            {"id": agent_id, "cost": float(cost), "capabilities": [float(v) for v in caps]}
            for agent_id, cost, caps in zip(
                instance.agent_ids, instance.agent_cost, instance.agent_capability, strict=True
            )
        ],
        "tasks": [
            {"id": task_id, "reward": float(reward), "requirements": [float(v) for v in req]}
            for task_id, reward, req in zip(
                instance.task_ids, instance.task_reward, instance.task_requirement, strict=True
            )
        ],
        "pair_costs": None if instance.pair_costs is None else instance.pair_costs.tolist(),
    }
