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
