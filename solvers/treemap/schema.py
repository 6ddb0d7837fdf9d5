"""Treemap instances: the raw JSON models, the slash-path CSV parser and the parsed tree.

A parsed tree is stored flat, in breadth-first order, so that the children of node ``i`` are the
contiguous range ``child_start[i] : child_start[i + 1]``. That keeps a 10^6-node tree in a few
Python lists instead of a million objects.
"""

from __future__ import annotations

import csv
import io
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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


class _Errors:
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
        return _parse_csv(csv_model)
    if fmt != "json":
        raise InvalidInstance([{"loc": ["format"], "msg": "format must be 'json' (a nested tree) or 'csv'"}])
    errors = _Errors()
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


def _parse_tree(tree: dict[str, Any], width: float, height: float, errors: _Errors) -> TreemapInstance:
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
    return _finish(
        names,
        parent,
        starts,
        declared,
        depth,
        width,
        height,
        lambda i: [*_tree_loc(i, parent, starts), "weight"],
    )


def _parse_csv(model: CsvInstanceModel) -> TreemapInstance:
    """Build the tree from slash paths; missing ancestors are created with the sum of their children."""
    errors = _Errors()
    reader = csv.reader(io.StringIO(model.text))
    index_of: dict[str, int] = {}
    names: list[str] = []
    kids: list[list[int]] = []
    declared: list[float | None] = []
    line_of: dict[int, int] = {}  # node -> the line that lists it explicitly
    mention: list[int] = []  # node -> first line that names it (for implied ancestors too)
    root_name: str | None = None
    header_seen = False
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if not header_seen:
                header_seen = True
                if [c.strip().lower() for c in row] not in (["id", "weight"], ["path", "weight"]):
                    errors.add(["text", line], "the first line must be the header 'id,weight'")
                continue
            if len(row) != 2:
                errors.add(["text", line], f"expected 2 fields 'path,weight', found {len(row)}")
                continue
            path, weight_text = row[0].strip(), row[1].strip()
            parts = path.split("/")
            if "" in parts:
                errors.add(["text", line], f"path {path!r} has an empty component; use 'root/a/b'")
                continue
            if len(path) > MAX_NAME_LENGTH and max(map(len, parts)) > MAX_NAME_LENGTH:
                errors.add(["text", line], f"a name is longer than MAX_NAME_LENGTH = {MAX_NAME_LENGTH}")
                continue
            if len(parts) - 1 > MAX_DEPTH:
                errors.add(["text", line], f"path is deeper than MAX_DEPTH = {MAX_DEPTH}")
                continue
            if root_name is None:
                root_name = parts[0]
            if parts[0] != root_name:
                errors.add(["text", line], f"every path must start with the root {root_name!r}")
                continue
            weight: float | None = None
            if weight_text:
                try:
                    weight = float(weight_text)
                except ValueError:
                    errors.add(["text", line], f"weight {weight_text!r} is not a number")
                    continue
                if not (math.isfinite(weight) and weight > 0):
                    errors.add(["text", line], "weights must be positive and finite")
                    continue
            node = _ensure_path(path, index_of, names, kids, declared, mention, line)
            if node is None:
                errors.add(["text"], f"more than MAX_NODES = {MAX_NODES} nodes; split or prune the tree")
                break
            if node in line_of:
                errors.add(["text", line], f"path {path!r} is listed twice (first on line {line_of[node]})")
                continue
            line_of[node] = line
            declared[node] = weight
    except csv.Error as exc:
        errors.add(["text"], f"CSV syntax error: {exc}")
    if not header_seen:
        errors.add(["text"], "the CSV is empty; give the header 'id,weight' and one row per node")
    elif not names:
        errors.add(["text"], "no rows after the header")
    for i in range(len(names)):
        if not kids[i] and declared[i] is None:
            errors.add(["text", mention[i]], f"leaf {names[i]!r} needs a positive weight")
    errors.raise_if_any()
    return _bfs_from_lists(names, kids, declared, mention, model.width, model.height)


def _ensure_path(
    path: str,
    index_of: dict[str, int],
    names: list[str],
    kids: list[list[int]],
    declared: list[float | None],
    mention: list[int],
    line: int,
) -> int | None:
    """Index of the node at ``path``, creating it and any missing ancestors; None past MAX_NODES."""
    existing = index_of.get(path)
    if existing is not None:
        return existing
    parent_path, _, name = path.rpartition("/")
    parent_index = -1
    if parent_path:
        found = _ensure_path(parent_path, index_of, names, kids, declared, mention, line)
        if found is None:
            return None
        parent_index = found
    if len(names) >= MAX_NODES:
        return None
    index = len(names)
    index_of[path] = index
    names.append(name)
    kids.append([])
    declared.append(None)
    mention.append(line)
    if parent_index >= 0:
        kids[parent_index].append(index)
    return index


def _bfs_from_lists(
    names: list[str],
    kids: list[list[int]],
    declared: list[float | None],
    mention: list[int],
    width: float,
    height: float,
) -> TreemapInstance:
    """Renumber a parent-first tree breadth-first (children kept in input order)."""
    order = [0]
    parent = [-1]
    depth = [0]
    starts: list[int] = []
    head = 0
    while head < len(order):
        node = order[head]
        starts.append(len(order))
        for kid in kids[node]:
            order.append(kid)
            parent.append(head)
            depth.append(depth[head] + 1)
        head += 1
    starts.append(len(order))
    bfs_lines = [mention[i] for i in order]
    return _finish(
        [names[i] for i in order],
        parent,
        starts,
        [declared[i] for i in order],
        depth,
        width,
        height,
        lambda i: ["text", bfs_lines[i]],
    )


def _finish(
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
    errors = _Errors()
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
