"""The slash-path CSV form of a treemap instance: a header ``id,weight``, then one ``root/a/b,weight`` row per node.

Ancestors a row implies are created, with the sum of their children as weight; every problem is reported
with its line (``["text", line]``).
"""

from __future__ import annotations

import csv
import io
import math

from solvers.treemap import schema
from solvers.treemap.schema import CsvInstanceModel, ErrorList, TreemapInstance, finish_tree


def read_csv(model: CsvInstanceModel) -> TreemapInstance:
    """Build the tree from slash paths; missing ancestors are created with the sum of their children."""
    errors = ErrorList()
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
            if len(path) > schema.MAX_NAME_LENGTH and max(map(len, parts)) > schema.MAX_NAME_LENGTH:
                errors.add(["text", line], f"a name is longer than MAX_NAME_LENGTH = {schema.MAX_NAME_LENGTH}")
                continue
            if len(parts) - 1 > schema.MAX_DEPTH:
                errors.add(["text", line], f"path is deeper than MAX_DEPTH = {schema.MAX_DEPTH}")
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
                errors.add(["text"], f"more than MAX_NODES = {schema.MAX_NODES} nodes; split or prune the tree")
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
    if len(names) >= schema.MAX_NODES:
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
    return finish_tree(
        [names[i] for i in order],
        parent,
        starts,
        [declared[i] for i in order],
        depth,
        width,
        height,
        lambda i: ["text", bfs_lines[i]],
    )
