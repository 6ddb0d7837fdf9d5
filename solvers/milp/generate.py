"""Seeded generators of classic MILP families, returning raw JSON-form instances.

Families (after the instance classes used by Gasse et al., "Exact combinatorial optimization with graph
convolutional neural networks", 2019):
* ``set_cover`` — Balas & Ho (1980): rows × columns 0/1 matrix of given density, costs in 1..100, minimise;
* ``combinatorial_auction`` — bids on bundles of items (a simplified Leyton-Brown "arbitrary" scheme):
  each item sold at most once, maximise revenue;
* ``facility_location`` — capacitated facility location of Cornuéjols, Sridharan & Thizy (1991): demands in
  5..35, capacities in 10..160 scaled to a capacity/demand ratio, fixed costs 100..110·√capacity + 0..90,
  transport cost 10·distance·demand; fractional assignment (or single sourcing), minimise;
* ``independent_set`` — maximum independent set on a Barabási–Albert graph, with one ≤ 1 row per clique of a
  greedy clique partition of the edges.
Data are integers, so every family except fractional facility location suits CP-SAT as well.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from solvers.base import JSON

Family = Literal["set_cover", "combinatorial_auction", "facility_location", "independent_set"]
FAMILIES: tuple[Family, ...] = ("set_cover", "combinatorial_auction", "facility_location", "independent_set")


def _instance(name: str, sense: str, variables: list[JSON], constraints: list[JSON]) -> JSON:
    return {
        "format": "json",
        "name": name,
        "sense": sense,
        "objective_offset": 0,
        "variables": variables,
        "constraints": constraints,
    }


def _variable(name: str, kind: str, obj: float, lb: float = 0.0, ub: float | None = None) -> JSON:
    return {"name": name, "type": kind, "lb": lb, "ub": ub, "obj": float(obj)}


def _constraint(name: str, terms: dict[str, float], lb: float | None, ub: float | None) -> JSON:
    return {"name": name, "terms": terms, "lb": lb, "ub": ub}


def set_cover(seed: int, rows: int = 250, columns: int = 500, density: float = 0.05) -> JSON:
    """Balas & Ho set cover: every row covered by at least one chosen column, minimise total cost."""
    rng = np.random.default_rng(seed)
    cover = rng.random((rows, columns)) < density
    for i in np.flatnonzero(~cover.any(axis=1)):  # every row coverable
        cover[i, rng.integers(columns)] = True
    for j in np.flatnonzero(~cover.any(axis=0)):  # every column useful
        cover[rng.integers(rows), j] = True
    costs = rng.integers(1, 101, size=columns)
    variables = [_variable(f"x{j}", "binary", costs[j], ub=1) for j in range(columns)]
    constraints = [
        _constraint(f"cover{i}", {f"x{j}": 1.0 for j in np.flatnonzero(cover[i])}, 1.0, None) for i in range(rows)
    ]
    return _instance(f"set_cover_{seed}", "minimize", variables, constraints)


def combinatorial_auction(seed: int, items: int = 50, bids: int = 250) -> JSON:
    """Bids on bundles; each item goes to at most one accepted bid; maximise the accepted bids' prices."""
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 101, size=items)
    bundles: list[np.ndarray] = []
    prices: list[int] = []
    for _ in range(bids):
        size = min(items, 1 + int(rng.geometric(0.3)))
        first = int(rng.integers(items))
        # Bundles favour neighbouring items, giving overlapping "complementary" bundles.
        weights = np.exp(-np.abs(np.arange(items) - first) / 5.0)
        weights[first] = 0.0
        others: np.ndarray = rng.choice(items, size=size - 1, replace=False, p=weights / weights.sum())
        bundle = np.unique(np.append(others, first)).astype(int)
        bundles.append(bundle)
        synergy = 1.0 + 0.2 * (len(bundle) - 1) * rng.random()
        prices.append(round(float(values[bundle].sum()) * synergy))
    variables = [_variable(f"b{k}", "binary", prices[k], ub=1) for k in range(bids)]
    constraints = []
    for item in range(items):
        holders = [k for k, bundle in enumerate(bundles) if item in bundle]
        if holders:
            constraints.append(_constraint(f"item{item}", {f"b{k}": 1.0 for k in holders}, None, 1.0))
    return _instance(f"combinatorial_auction_{seed}", "maximize", variables, constraints)


def facility_location(
    seed: int, customers: int = 50, facilities: int = 20, ratio: float = 5.0, single_source: bool = False
) -> JSON:
    """Capacitated facility location; x_ij is the share of customer i served by j (0/1 if single_source)."""
    rng = np.random.default_rng(seed)
    cx, cy = rng.random(customers), rng.random(customers)
    fx, fy = rng.random(facilities), rng.random(facilities)
    demand = rng.integers(5, 36, size=customers)
    capacity = rng.integers(10, 161, size=facilities).astype(float)
    capacity = np.ceil(capacity * ratio * demand.sum() / capacity.sum()).astype(int)
    fixed = np.round(rng.integers(100, 111, size=facilities) * np.sqrt(capacity) + rng.integers(0, 91, size=facilities))
    distance = np.sqrt((cx[:, None] - fx[None, :]) ** 2 + (cy[:, None] - fy[None, :]) ** 2)
    transport = np.round(10 * distance * demand[:, None])
    assign_type = "binary" if single_source else "continuous"
    variables = [_variable(f"open{j}", "binary", fixed[j], ub=1) for j in range(facilities)]
    variables += [
        _variable(f"x{i}_{j}", assign_type, transport[i, j], ub=1) for i in range(customers) for j in range(facilities)
    ]
    constraints = [
        _constraint(f"serve{i}", {f"x{i}_{j}": 1.0 for j in range(facilities)}, 1.0, 1.0) for i in range(customers)
    ]
    for j in range(facilities):
        terms = {f"x{i}_{j}": float(demand[i]) for i in range(customers)}
        terms[f"open{j}"] = -float(capacity[j])
        constraints.append(_constraint(f"capacity{j}", terms, None, 0.0))
    constraints += [
        _constraint(f"link{i}_{j}", {f"x{i}_{j}": 1.0, f"open{j}": -1.0}, None, 0.0)
        for i in range(customers)
        for j in range(facilities)
    ]
    total = {f"open{j}": float(capacity[j]) for j in range(facilities)}
    constraints.append(_constraint("total_capacity", total, float(demand.sum()), None))
    return _instance(f"facility_location_{seed}", "minimize", variables, constraints)


def independent_set(seed: int, nodes: int = 150, affinity: int = 4) -> JSON:
    """Maximum independent set on a Barabási–Albert graph, with clique-partition constraints."""
    rng = np.random.default_rng(seed)
    neighbours: list[set[int]] = [set() for _ in range(nodes)]
    for v in range(1, nodes):
        if v <= affinity:
            targets = set(range(v))
        else:
            degrees = np.array([len(neighbours[u]) for u in range(v)], dtype=float)
            targets = set(rng.choice(v, size=affinity, replace=False, p=degrees / degrees.sum()).tolist())
        for u in targets:
            neighbours[v].add(u)
            neighbours[u].add(v)
    uncovered = {(min(u, v), max(u, v)) for v in range(nodes) for u in neighbours[v]}
    cliques: list[list[int]] = []
    for v in sorted(range(nodes), key=lambda u: -len(neighbours[u])):
        while any((min(v, u), max(v, u)) in uncovered for u in neighbours[v]):
            clique = [v]
            for u in sorted(neighbours[v], key=lambda w: -len(neighbours[w])):
                if (min(v, u), max(v, u)) in uncovered and all(u in neighbours[w] for w in clique):
                    clique.append(u)
            for a in clique:
                for b in clique:
                    uncovered.discard((a, b))
            cliques.append(clique)
    variables = [_variable(f"v{v}", "binary", 1.0, ub=1) for v in range(nodes)]
    constraints = [
        _constraint(f"clique{k}", {f"v{v}": 1.0 for v in sorted(clique)}, None, 1.0) for k, clique in enumerate(cliques)
    ]
    return _instance(f"independent_set_{seed}", "maximize", variables, constraints)


def generate(seed: int, family: Family = "set_cover", size: int | None = None, **kwargs: Any) -> JSON:
    """A raw JSON-form instance of ``family``; ``size`` scales the family's main dimension."""
    if family == "set_cover":
        if size is not None:
            kwargs.setdefault("rows", size)
            kwargs.setdefault("columns", 2 * size)
        return set_cover(seed, **kwargs)
    if family == "combinatorial_auction":
        if size is not None:
            kwargs.setdefault("items", max(2, size // 5))
            kwargs.setdefault("bids", size)
        return combinatorial_auction(seed, **kwargs)
    if family == "facility_location":
        if size is not None:
            kwargs.setdefault("customers", size)
            kwargs.setdefault("facilities", max(2, math.ceil(size / 2.5)))
        return facility_location(seed, **kwargs)
    if family == "independent_set":
        if size is not None:
            kwargs.setdefault("nodes", size)
        return independent_set(seed, **kwargs)
    raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
