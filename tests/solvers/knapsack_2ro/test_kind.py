"""The kind's declaration: what the API process imports and serves."""

from __future__ import annotations

from solvers.knapsack_2ro import KIND


def test_declaration() -> None:
    assert KIND.name == "knapsack_2ro" and KIND.sense == "maximize"
    assert list(KIND.solvers) == ["exact", "nominal", "neur2ro"] and KIND.default_solver == "exact"
    assert KIND.solvers["neur2ro"].learned
    assert KIND.solvers["exact"].exact and not KIND.solvers["nominal"].exact
    assert KIND.summary(KIND.parse(KIND.example))["items"] == 3


def test_the_instance_schema_defines_both_formats() -> None:
    assert {"JsonInstanceModel", "AdInstanceModel", "ItemModel"} <= set(KIND.instance_schema["$defs"])
