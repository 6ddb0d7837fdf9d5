"""The milp kind's declaration: schema definitions, the example solves, auto choice (tests/solvers/test_kind_contract.py
holds what every kind promises)."""

from __future__ import annotations

import json
from typing import Any

from solvers.base import NeverCancel, NullProgress, SolutionStatus
from solvers.milp import KIND
from solvers.milp.generate import FAMILIES, generate


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_instance_schema_shares_its_definitions() -> None:
    assert len(_refs(KIND.instance_schema)) >= 4


def test_the_example_solves() -> None:
    model = KIND.parse(json.loads(json.dumps(KIND.example)))
    for name, spec in KIND.solvers.items():
        assert spec.name == name and spec.exact is not spec.learned
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
