"""The kind's contract: no native imports, schemas, example, auto choice."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from solvers.base import NeverCancel, NullProgress, SolutionStatus
from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, generate


def test_importing_the_kind_loads_no_native_solver_library() -> None:
    code = (
        "import sys, solvers.milp as m; m.KIND.parse(m.KIND.example); "
        "print([n for n in sys.modules if n.split('.')[0] in ('highspy', 'ortools', 'pyscipopt')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_schema_reference_resolves_within_its_document() -> None:
    for schema in (KIND.instance_schema, KIND.result_schema):
        for ref in _refs(schema):
            assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]
    assert len(_refs(KIND.instance_schema)) >= 4


def test_schemas_and_example_are_json_and_the_example_solves() -> None:
    json.dumps(KIND.instance_schema)
    json.dumps(KIND.result_schema)
    model = KIND.parse(json.loads(json.dumps(KIND.example)))
    for name, spec in KIND.solvers.items():
        assert spec.name == name and spec.exact and not spec.learned
        json.dumps(spec.options.model_json_schema())
    highs = KIND.solvers["highs"].load()
    result = highs.solve(model, highs.Options(), NullProgress(), NeverCancel())
    assert result.status is SolutionStatus.optimal
    json.dumps(result.solution)


def test_auto_picks_cpsat_exactly_when_it_can_take_the_model(load_dev: Any) -> None:
    for family in FAMILIES:
        model = KIND.parse(generate(0, family, size=20))
        expected = "highs" if model.num_continuous else "cpsat"
        assert KIND.solver("auto", model).name == expected
    assert KIND.solver("auto", load_dev("egout")).name == "highs"
    fractional = KIND.parse(generate(0, "set_cover", size=20))
    fractional.obj[0] = 1 / 3
    assert KIND.solver("auto", fractional).name == "highs"
