"""Treemap instance generators: random heavy-tailed trees, ε-chains, halving chains, directory trees."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from solvers.base import JSON

Format = Literal["json", "csv"]


def _base36(i: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 36)
        out = digits[r] + out
        if i == 0:
            return out


def _from_parents(parents: list[int], leaf_weight: dict[int, float], fmt: Format, size: tuple[float, float]) -> JSON:
    """A raw instance from a parent array (parents[i] < i, parents[0] = -1) and leaf weights."""
    n = len(parents)
    names = ["root"] + ["n" + _base36(i) for i in range(1, n)]
    if fmt == "csv":
        paths = [names[0]]
        for i in range(1, n):
            paths.append(paths[parents[i]] + "/" + names[i])
        rows = [f"{paths[i]},{leaf_weight[i]!r}" for i in range(n) if i in leaf_weight]
        return {
            "format": "csv",
            "text": "id,weight\n" + "\n".join(rows) + "\n",
            "width": size[0],
            "height": size[1],
        }
    nodes: list[dict[str, Any]] = [{"name": name} for name in names]
    for i in range(1, n):
        nodes[parents[i]].setdefault("children", []).append(nodes[i])
    for i, w in leaf_weight.items():
        nodes[i]["weight"] = w
    return {"tree": nodes[0], "width": size[0], "height": size[1]}


def generate(
    seed: int,
    nodes: int = 200,
    tail: float = 1.2,
    fmt: Format = "json",
    width: float = 1.0,
    height: float = 1.0,
) -> JSON:
    """A random recursive tree of ``nodes`` nodes with Pareto(``tail``) leaf weights (heavy-tailed).

    Node i > 0 hangs under a uniformly drawn earlier node, so depth grows like log(nodes); use
    ``fmt="csv"`` for very large trees (a compact text instead of a million nested dicts).
    """
    if nodes < 2:
        raise ValueError("a random tree needs at least 2 nodes")
    rng = np.random.default_rng(seed)
    parents = [-1, *(rng.random(nodes - 1) * np.arange(1, nodes)).astype(np.int64).tolist()]
    has_child = np.zeros(nodes, dtype=bool)
    has_child[parents[1:]] = True
    leaves = np.flatnonzero(~has_child)
    weights = (rng.pareto(tail, size=leaves.size) + 1.0).tolist()
    return _from_parents(parents, dict(zip(leaves.tolist(), weights, strict=True)), fmt, (width, height))


def epsilon_chain(depth: int, epsilon: float, fmt: Format = "json") -> JSON:
    """A chain of ``depth`` levels; each internal node has a leaf of weight fraction ε and the rest.

    Whatever the layout, rectangles give the ε leaf an aspect ratio of about 1/ε.
    """
    parents = [-1]
    leaf_weight: dict[int, float] = {}
    mass, spine = 1.0, 0
    for _ in range(depth):
        small, rest = len(parents), len(parents) + 1
        parents += [spine, spine]
        leaf_weight[small] = mass * epsilon
        mass *= 1.0 - epsilon
        spine = rest
    leaf_weight[spine] = mass
    return _from_parents(parents, leaf_weight, fmt, (1.0, 1.0))


def directory_tree(root: str, max_nodes: int = 5000, skip_hidden: bool = True) -> JSON:
    """The files under ``root`` weighted by size in bytes (at least 1), breadth-first up to ``max_nodes``.

    Entries whose name starts with a dot are left out when ``skip_hidden`` is set.
    """
    tree: dict[str, Any] = {"name": os.path.basename(os.path.abspath(root)) or "root", "children": []}
    queue = [(root, tree)]
    count = 1
    head = 0
    while head < len(queue) and count < max_nodes:
        path, node = queue[head]
        head += 1
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if count >= max_nodes:
                break
            if skip_hidden and entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    child: dict[str, Any] = {"name": entry.name, "children": []}
                    queue.append((entry.path, child))
                elif entry.is_file():
                    child = {"name": entry.name, "weight": float(max(entry.stat().st_size, 1))}
                else:
                    continue
            except OSError:
                continue
            node["children"].append(child)
            count += 1
    _prune_empty(tree)
    return {"tree": tree, "width": 1.6, "height": 1.0}


def _prune_empty(node: dict[str, Any]) -> bool:
    """Drop directories without files below them; True when ``node`` keeps some weight."""
    if "children" not in node:
        return True
    stack: list[tuple[dict[str, Any], bool]] = [(node, False)]
    while stack:
        current, expanded = stack.pop()
        if not expanded:
            stack.append((current, True))
            stack.extend((c, False) for c in current["children"] if "children" in c)
        else:
            current["children"] = [c for c in current["children"] if "children" not in c or c["children"]]
    return bool(node["children"])
