"""Treemap instances and solutions: the raw JSON models, the parsed tree, the solution model.

A parsed tree is stored flat, in breadth-first order, so that the children of node ``i`` are the
contiguous range ``child_start[i] : child_start[i + 1]``. That keeps a 10^6-node tree in a few
Python lists instead of a million objects. The slash-path CSV form is read by :mod:`solvers.treemap.csv_format`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator

from solvers.base import JSON, InvalidInstance, errors_from_validation
from solvers.treemap.memory import gc_paused

#: Most nodes (root included) an instance may have.
MAX_NODES = 2_000_000
#: Deepest level allowed (the root is depth 0).
MAX_DEPTH = 256
#: Longest node name, in characters.
MAX_NAME_LENGTH = 200
#: Smallest weight a node may have relative to the root's weight; below it a region is too small
#: for double-precision coordinates to hold its area to the checked tolerance.
MIN_RELATIVE_WEIGHT = 1e-12
#: Largest width or height of the container.
MAX_SIDE = 1e9
#: Smallest width or height of the container: below it, areas of nodes at MIN_RELATIVE_WEIGHT of the
#: total would approach the floating-point underflow (a 1e-200 square has area 0).
MIN_SIDE = 1e-9
#: At most this many problems are listed in one InvalidInstance.
MAX_REPORTED_ERRORS = 100
#: Declared internal weights must match their children's sum to this relative tolerance.
WEIGHT_SUM_RTOL = 1e-9


def _check_name(name: str) -> str:
    if "/" in name:
        raise ValueError("names may not contain '/', which separates path components; rename the node")
    return name


class TreeNode(BaseModel):
    """A node of the tree: leaves carry a weight, internal nodes list children (weight optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Unique among its siblings.")
    weight: float | None = Field(
        None,
        gt=0,
        strict=True,
        allow_inf_nan=False,
        description="Required on leaves; on an internal node it must equal the sum of its children's.",
    )
    children: list[Any] | None = Field(None, description="Child nodes (TreeNode objects).")

    _name_has_no_slash = field_validator("name")(_check_name)


class TreeInstanceModel(BaseModel):
    """The JSON form: a nested tree laid out in the rectangle [0, width] x [0, height]."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["json"] = "json"
    tree: dict[str, Any] = Field(description="The root TreeNode.")
    width: float = Field(1.0, ge=MIN_SIDE, le=MAX_SIDE, strict=True, allow_inf_nan=False)
    height: float = Field(1.0, ge=MIN_SIDE, le=MAX_SIDE, strict=True, allow_inf_nan=False)


class CsvInstanceModel(BaseModel):
    """The CSV form: a header ``id,weight`` then one ``slash/path,weight`` row per node."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv"]
    text: str = Field(description="CSV text; ancestors of listed paths are created, empty weight = sum.")
    width: float = Field(1.0, ge=MIN_SIDE, le=MAX_SIDE, strict=True, allow_inf_nan=False)
    height: float = Field(1.0, ge=MIN_SIDE, le=MAX_SIDE, strict=True, allow_inf_nan=False)


@dataclass(frozen=True)
class TreemapInstance:
    """A validated weighted tree in breadth-first order, plus its container rectangle."""

    names: list[str]
    parent: list[int]
    child_start: list[int]
    weight: list[float]
    depth: list[int]
    width: float
    height: float

    @property
    def size(self) -> int:
        """Number of nodes, root included."""
        return len(self.names)

    def children(self, node: int) -> range:
        """Indices of the children of ``node`` (empty for a leaf)."""
        return range(self.child_start[node], self.child_start[node + 1])

    def paths(self) -> list[str]:
        """Slash path of every node, in node order."""
        out: list[str] = [self.names[0]]
        for i in range(1, self.size):
            out.append(out[self.parent[i]] + "/" + self.names[i])
        return out


class ErrorList:
    """Collects field errors up to MAX_REPORTED_ERRORS and counts the rest."""

    def __init__(self) -> None:
        self.items: list[JSON] = []
        self.dropped = 0

    def add(self, loc: Sequence[str | int], msg: str) -> None:
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append({"loc": list(loc), "msg": msg})
        else:
            self.dropped += 1

    def extend(self, errors: list[JSON]) -> None:
        for e in errors:
            self.add(e["loc"], e["msg"])

    def as_exception(self) -> InvalidInstance:
        items = list(self.items)
        if self.dropped:
            items.append({"loc": [], "msg": f"... and {self.dropped} more problems not listed"})
        return InvalidInstance(items)

    def raise_if_any(self) -> None:
        if self.items:
            raise self.as_exception()


@gc_paused()
def parse(raw: Any) -> TreemapInstance:
    """Validate a raw instance (JSON tree or slash-path CSV); raises InvalidInstance listing every problem."""
    if not isinstance(raw, dict):
        raise InvalidInstance([{"loc": [], "msg": "the instance must be a JSON object"}])
    fmt = raw.get("format", "json")
    if fmt == "csv":
        try:
            csv_model = CsvInstanceModel.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInstance(errors_from_validation(exc)) from None
        from solvers.treemap.csv_format import read_csv  # the reader builds on this module

        return read_csv(csv_model)
    if fmt != "json":
        raise InvalidInstance([{"loc": ["format"], "msg": "format must be 'json' (a nested tree) or 'csv'"}])
    errors = ErrorList()
    try:
        tree_model = TreeInstanceModel.model_validate(raw)
    except ValidationError as exc:
        errors.extend(errors_from_validation(exc))
        tree = raw.get("tree")
        if isinstance(tree, dict):
            _parse_tree(tree, 1.0, 1.0, errors)  # to list the tree's own problems as well
        raise errors.as_exception() from None
    return _parse_tree(tree_model.tree, tree_model.width, tree_model.height, errors)


def _tree_loc(index: int, parent: list[int], child_start: list[int]) -> list[str | int]:
    """Location of node ``index`` in the nested JSON, rebuilt from the parent chain (no per-node storage)."""
    steps: list[str | int] = []
    while parent[index] >= 0:
        steps += [index - child_start[parent[index]], "children"]
        index = parent[index]
    return ["tree", *reversed(steps)]


def _parse_tree(tree: dict[str, Any], width: float, height: float, errors: ErrorList) -> TreemapInstance:
    """Walk the nested tree breadth-first, validating every node.

    Breadth-first numbering gives contiguous child ranges: a node's children come after every node
    already queued, so they start at ``len(names) + len(queue)`` when the node is taken off the queue.
    """
    names: list[str] = []
    parent: list[int] = []
    declared: list[float | None] = []
    child_start: list[int] = []
    depth: list[int] = []
    queue: deque[tuple[Any, int, int]] = deque([(tree, -1, 0)])
    while queue:
        raw_node, parent_index, node_depth = queue.popleft()
        if len(names) >= MAX_NODES:
            errors.add(["tree"], f"the tree has more than MAX_NODES = {MAX_NODES} nodes; split it or prune it")
            break
        index = len(names)
        names.append("")
        parent.append(parent_index)
        depth.append(node_depth)
        child_start.append(index + 1 + len(queue))
        try:
            node: TreeNode | None = TreeNode.model_validate(raw_node)
        except ValidationError as exc:
            errors.extend(errors_from_validation(exc, _tree_loc(index, parent, child_start)))
            node = None
        kids: list[Any] = []
        if node is not None:
            names[index] = node.name
            kids = node.children or []
            if node.children is not None and not node.children:
                loc = _tree_loc(index, parent, child_start)
                errors.add([*loc, "children"], "children is empty; omit it and give the node a weight")
            if not kids and node.weight is None:
                errors.add([*_tree_loc(index, parent, child_start), "weight"], "a leaf needs a positive weight")
        elif isinstance(raw_node, dict) and isinstance(raw_node.get("children"), list):
            kids = raw_node["children"]  # keep walking to report problems further down too
        declared.append(node.weight if node else None)
        if kids and node_depth + 1 > MAX_DEPTH:
            loc = _tree_loc(index, parent, child_start)
            errors.add([*loc, "children"], f"the tree is deeper than MAX_DEPTH = {MAX_DEPTH}")
            kids = []
        seen: set[str] = set()
        for k, kid in enumerate(kids):
            kid_name = kid.get("name") if isinstance(kid, dict) else None
            if isinstance(kid_name, str):
                if kid_name in seen:
                    loc = _tree_loc(index, parent, child_start)
                    errors.add([*loc, "children", k, "name"], f"duplicate sibling name {kid_name!r}")
                seen.add(kid_name)
            queue.append((kid, index, node_depth + 1))
    errors.raise_if_any()
    starts = [*child_start, len(names)]
    return finish_tree(
        names,
        parent,
        starts,
        declared,
        depth,
        width,
        height,
        lambda i: [*_tree_loc(i, parent, starts), "weight"],
    )


def finish_tree(
    names: list[str],
    parent: list[int],
    child_start: list[int],
    declared: list[float | None],
    depth: list[int],
    width: float,
    height: float,
    loc_of: Callable[[int], list[str | int]],
) -> TreemapInstance:
    """Sum weights bottom-up, check declared internal weights and the relative-weight limit."""
    errors = ErrorList()
    n = len(names)
    weight = [0.0] * n
    for i in range(n - 1, -1, -1):
        lo, hi = child_start[i], child_start[i + 1]
        if hi > lo:
            try:
                total = math.fsum(weight[lo:hi])
            except OverflowError:  # partial sums beyond the largest float
                total = math.inf
            given = declared[i]
            if given is not None and math.isfinite(total) and abs(given - total) > WEIGHT_SUM_RTOL * total:
                errors.add(
                    loc_of(i),
                    f"weight {given!r} differs from the sum of its children's weights {total!r};"
                    " omit it or set it to the sum",
                )
            weight[i] = total
        else:
            weight[i] = declared[i] or 0.0
    root_weight = weight[0]
    if not math.isfinite(root_weight):
        errors.add(loc_of(0), "the sum of all weights overflows; scale the weights down")
    else:
        floor = MIN_RELATIVE_WEIGHT * root_weight
        for i in range(n):
            if weight[i] < floor:
                errors.add(
                    loc_of(i),
                    f"weight {weight[i]!r} is below MIN_RELATIVE_WEIGHT = {MIN_RELATIVE_WEIGHT} times the"
                    f" total {root_weight!r}; merge small nodes or drop them",
                )
    errors.raise_if_any()
    return TreemapInstance(names, parent, child_start, weight, depth, width, height)


# The solution's JSON model (shared by the solvers, the check and the API schema; no geometry).

#: Largest area slack a solution may declare (areas within a factor 1 + slack of their share).
MAX_SLACK = 1.0

Measure = Literal["max_side_ratio", "diameter2_over_area"]


class SolutionNode(BaseModel):
    """One node's region."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Slash path from the root, e.g. 'root/b/c'.")
    depth: int = Field(ge=0)
    weight: float = Field(gt=0)
    polygon: list[tuple[FiniteFloat, FiniteFloat]] = Field(min_length=3, description="Counter-clockwise, y up.")
    area: float = Field(description="Shoelace area of the polygon.")
    aspect_ratio: float = Field(description="In the solution's aspect_ratio_measure.")


class TreemapSolution(BaseModel):
    """Every node's polygon, root included."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[SolutionNode]
    aspect_ratio_measure: Measure = Field(
        "diameter2_over_area",
        description="max_side_ratio = max(w/h, h/w) of axis-parallel rectangles;"
        " diameter2_over_area = diameter² / area otherwise.",
    )
    slack: float = Field(
        0.0,
        ge=0,
        le=MAX_SLACK,
        description="0: children tile their parent exactly. s > 0: children are disjoint and inside their"
        " parent, and every node's area lies in [a/(1+s), a(1+s)] of its share a of the container"
        " (container area × weight / total weight). Informational: the check holds the solution to the"
        " slack the request allowed, and refuses a declared slack above it.",
    )


def summary(instance: TreemapInstance) -> JSON:
    """Sizes of a parsed instance."""
    leaves = sum(1 for i in range(instance.size) if instance.child_start[i] == instance.child_start[i + 1])
    return {
        "nodes": instance.size,
        "leaves": leaves,
        "internal_nodes": instance.size - leaves,
        "depth": max(instance.depth),
        "total_weight": instance.weight[0],
        "width": instance.width,
        "height": instance.height,
    }


def instance_schema() -> JSON:
    """JSON schema of the instance: the nested-tree form or the CSV form."""
    node_schema = TreeNode.model_json_schema()
    node_schema["properties"]["children"] = {
        "anyOf": [{"type": "array", "items": {"$ref": "#/$defs/TreeNode"}}, {"type": "null"}],
        "default": None,
        "description": "Child nodes.",
    }
    tree_schema = TreeInstanceModel.model_json_schema()
    tree_schema["properties"]["tree"] = {"$ref": "#/$defs/TreeNode"}
    return {
        "title": "TreemapInstance",
        "oneOf": [tree_schema, CsvInstanceModel.model_json_schema()],
        "$defs": {"TreeNode": node_schema},
    }
