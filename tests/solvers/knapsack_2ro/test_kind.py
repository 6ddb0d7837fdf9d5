"""The kind's declaration: what the API process imports and serves."""

from __future__ import annotations

import json
import subprocess
import sys

from solvers.knapsack_2ro import KIND


def test_kind_is_importable_without_native_solvers() -> None:
    code = (
        "import sys, solvers.knapsack_2ro as k; k.KIND.parse(k.KIND.example); "
        "loaded = [m for m in ('highspy', 'numpy', 'ortools', 'pyscipopt') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_declaration() -> None:
    assert KIND.name == "knapsack_2ro" and KIND.sense == "maximize"
    assert list(KIND.solvers) == ["exact", "nominal", "neur2ro"] and KIND.default_solver == "exact"
    assert KIND.solvers["neur2ro"].learned
    assert KIND.solvers["exact"].exact and not KIND.solvers["nominal"].exact
    for spec in KIND.solvers.values():
        assert spec.options().time_limit_s > 0
        json.dumps(spec.options.model_json_schema())
    json.dumps(KIND.instance_schema)
    json.dumps(KIND.result_schema)
    assert KIND.summary(KIND.parse(KIND.example))["items"] == 3


def references(node: object) -> list[str]:
    """Every ``$ref`` in a JSON schema."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def test_schema_references_resolve_from_the_root() -> None:
    for schema in (KIND.instance_schema, KIND.result_schema):
        for ref in references(schema):
            assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]
    assert {"JsonInstanceModel", "AdInstanceModel", "ItemModel"} <= set(KIND.instance_schema["$defs"])
