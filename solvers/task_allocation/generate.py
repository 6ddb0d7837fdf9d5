"""Instance generators: random instances of any size and families shaped like the seed paper's environments.

Families (see docs/kinds/task_allocation.md): ``random``; ``specialists`` (many one-skill specialists plus
one expensive generalist); ``stations`` (charging stations serving demand sites, distance-based pair
costs); ``grid`` (agents and tasks on a grid, Manhattan travel costs); ``planted`` (a hidden optimal
allocation whose optimality follows from a capability-price bound).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from solvers.base import JSON

Family = Literal["random", "specialists", "stations", "grid", "planted"]
FAMILIES: tuple[Family, ...] = ("random", "specialists", "stations", "grid", "planted")


def _capability_names(count: int) -> list[str]:
    return [f"c{k}" for k in range(count)]


def _instance(
    capabilities: list[str],
    agent_costs: list[float],
    agent_vectors: list[list[float]],
    rewards: list[float],
    requirements: list[list[float]],
    pair_costs: list[list[float]] | None = None,
) -> JSON:
    return {
        "capabilities": capabilities,
        "agents": [
            {"id": f"a{i}", "cost": float(cost), "capabilities": [float(v) for v in vector]}
            for i, (cost, vector) in enumerate(zip(agent_costs, agent_vectors, strict=True))
        ],
        "tasks": [
            {"id": f"t{j}", "reward": float(reward), "requirements": [float(v) for v in vector]}
            for j, (reward, vector) in enumerate(zip(rewards, requirements, strict=True))
        ],
        "pair_costs": pair_costs,
    }


def random_instance(
    seed: int, n_agents: int = 20, n_tasks: int = 6, n_capabilities: int = 3, pair_costs: bool = False
) -> JSON:
    """Agents with 1–2 integer skills, tasks needing 2–4 agents' worth; rewards 1–2× the capability value."""
    rng = np.random.default_rng(seed)
    agents = np.zeros((n_agents, n_capabilities))
    for i in range(n_agents):
        skills = rng.choice(n_capabilities, size=min(n_capabilities, int(rng.integers(1, 3))), replace=False)
        agents[i, skills] = rng.integers(1, 6, size=skills.size)
    costs = np.round(agents.sum(axis=1) * rng.uniform(0.6, 1.4, size=n_agents)) + 1
    tasks = np.zeros((n_tasks, n_capabilities))
    for j in range(n_tasks):
        needs = rng.choice(n_capabilities, size=min(n_capabilities, int(rng.integers(1, 4))), replace=False)
        tasks[j, needs] = rng.integers(2, 11, size=needs.size)
    rewards = np.round(tasks.sum(axis=1) * rng.uniform(1.0, 2.0, size=n_tasks))
    pairs = None
    if pair_costs:
        pairs = rng.integers(0, 4, size=(n_agents, n_tasks)).astype(float).tolist()
    return _instance(
        _capability_names(n_capabilities),
        costs.tolist(),
        agents.tolist(),
        rewards.tolist(),
        tasks.tolist(),
        pairs,
    )


def specialists_instance(seed: int, n_agents: int = 24, n_tasks: int = 8, n_capabilities: int = 4) -> JSON:
    """One-skill specialists (a few levels per skill, so many are identical) plus one generalist.

    The generalist holds every skill at level 3 and costs about twice a full specialist team's
    share, so it pays only where specialists run out.
    """
    rng = np.random.default_rng(seed)
    agents: list[list[float]] = []
    costs: list[float] = []
    for i in range(n_agents - 1):
        vector = [0.0] * n_capabilities
        level = int(rng.integers(1, 3))
        vector[i % n_capabilities] = float(level)
        agents.append(vector)
        costs.append(float(2 * level))
    agents.append([3.0] * n_capabilities)
    costs.append(float(4 * n_capabilities))
    requirements: list[list[float]] = []
    rewards: list[float] = []
    for _ in range(n_tasks):
        vector = [0.0] * n_capabilities
        for k in rng.choice(n_capabilities, size=int(rng.integers(2, n_capabilities + 1)), replace=False):
            vector[int(k)] = float(rng.integers(1, 4))
        requirements.append(vector)
        rewards.append(float(round(sum(vector) * 2 * rng.uniform(1.1, 2.0))))
    return _instance(_capability_names(n_capabilities), costs, agents, rewards, requirements)


def stations_instance(seed: int, n_agents: int = 30, n_tasks: int = 10, area_km: float = 20.0) -> JSON:
    """Charging stations (agents: power and ports) serving demand sites; pair cost 0.5 per km."""
    rng = np.random.default_rng(seed)
    station_xy = rng.uniform(0, area_km, size=(n_agents, 2))
    site_xy = rng.uniform(0, area_km, size=(n_tasks, 2))
    power = rng.choice([22.0, 50.0, 150.0], size=n_agents, p=[0.5, 0.35, 0.15])
    ports = rng.integers(1, 5, size=n_agents).astype(float)
    costs = np.round(power / 10 + 2 * ports)
    demand_power = rng.choice([50.0, 100.0, 200.0, 300.0], size=n_tasks)
    demand_ports = rng.integers(2, 9, size=n_tasks).astype(float)
    rewards = np.round((demand_power / 10 + 2 * demand_ports) * rng.uniform(1.3, 2.2, size=n_tasks) + 10)
    distance = np.linalg.norm(station_xy[:, None, :] - site_xy[None, :, :], axis=2)
    pairs = np.round(0.5 * distance, 1)
    return _instance(
        ["power_kw", "ports"],
        costs.tolist(),
        np.column_stack([power, ports]).tolist(),
        rewards.tolist(),
        np.column_stack([demand_power, demand_ports]).tolist(),
        pairs.tolist(),
    )


def grid_instance(
    seed: int, n_agents: int = 40, n_tasks: int = 12, n_capabilities: int = 3, grid_size: int = 10
) -> JSON:
    """Agents and tasks on a grid; each agent has one skill at level 1–2; pair cost = Manhattan distance."""
    rng = np.random.default_rng(seed)
    agent_cells = rng.integers(0, grid_size, size=(n_agents, 2))
    task_cells = rng.integers(0, grid_size, size=(n_tasks, 2))
    agents = np.zeros((n_agents, n_capabilities))
    agents[np.arange(n_agents), rng.integers(0, n_capabilities, size=n_agents)] = rng.integers(1, 3, size=n_agents)
    costs = 2.0 * agents.sum(axis=1)
    tasks = np.zeros((n_tasks, n_capabilities))
    for j in range(n_tasks):
        needs = rng.choice(n_capabilities, size=int(rng.integers(1, n_capabilities + 1)), replace=False)
        tasks[j, needs] = rng.integers(1, 4, size=needs.size)
    rewards = np.round(tasks.sum(axis=1) * 2 + rng.uniform(4, 4 + grid_size, size=n_tasks))
    distance = np.abs(agent_cells[:, None, :] - task_cells[None, :, :]).sum(axis=2).astype(float)
    return _instance(
        _capability_names(n_capabilities),
        costs.tolist(),
        agents.tolist(),
        rewards.tolist(),
        tasks.tolist(),
        distance.tolist(),
    )


def planted_instance(seed: int, n_agents: int = 30, n_tasks: int = 8, n_capabilities: int = 3) -> tuple[JSON, float]:
    """An instance with a known optimum, returned with it.

    Each capability k has a price w_k; every agent costs exactly Σ_k w_k a_k (decoy agents one more),
    and task j pays Σ_k w_k q_jk + m_j with a margin m_j ≥ 1. Any coalition covering task j costs at
    least Σ_k w_k q_jk, so no allocation earns more than Σ_j m_j; the hidden allocation splits every
    requirement vector exactly among its agents and earns exactly that.
    """
    rng = np.random.default_rng(seed)
    price = rng.integers(1, 6, size=n_capabilities).astype(float)
    planted_agents = max(n_tasks, round(0.85 * n_agents))
    sizes = np.ones(n_tasks, dtype=int) + np.bincount(
        rng.integers(0, n_tasks, size=planted_agents - n_tasks), minlength=n_tasks
    )
    vectors: list[np.ndarray] = []
    requirements: list[list[float]] = []
    rewards: list[float] = []
    optimum = 0.0
    for size in sizes:
        members = np.zeros((int(size), n_capabilities))
        for member in members:
            skills = rng.choice(n_capabilities, size=int(rng.integers(1, min(3, n_capabilities) + 1)), replace=False)
            member[skills] = rng.integers(1, 5, size=skills.size)
        requirement = members.sum(axis=0)
        margin = float(rng.integers(1, 11))
        vectors.extend(members)
        requirements.append(requirement.tolist())
        rewards.append(float(price @ requirement) + margin)
        optimum += margin
    costs = [float(price @ vector) for vector in vectors]
    for _ in range(max(0, n_agents - planted_agents)):
        decoy = np.zeros(n_capabilities)
        skills = rng.choice(n_capabilities, size=int(rng.integers(1, min(3, n_capabilities) + 1)), replace=False)
        decoy[skills] = rng.integers(1, 5, size=skills.size)
        vectors.append(decoy)
        costs.append(float(price @ decoy) + 1.0)
    order = rng.permutation(len(vectors))
    raw = _instance(
        _capability_names(n_capabilities),
        [costs[i] for i in order],
        [vectors[i].tolist() for i in order],
        rewards,
        requirements,
    )
    return raw, optimum


def generate(
    seed: int,
    n_agents: int = 20,
    n_tasks: int = 6,
    n_capabilities: int = 3,
    family: Family = "random",
    pair_costs: bool = False,
) -> JSON:
    """A raw instance of the given family and size (``stations`` always has 2 capabilities)."""
    if family == "random":
        return random_instance(seed, n_agents, n_tasks, n_capabilities, pair_costs)
    if family == "specialists":
        return specialists_instance(seed, n_agents, n_tasks, n_capabilities)
    if family == "stations":
        return stations_instance(seed, n_agents, n_tasks)
    if family == "grid":
        return grid_instance(seed, n_agents, n_tasks, n_capabilities)
    return planted_instance(seed, n_agents, n_tasks, n_capabilities)[0]
