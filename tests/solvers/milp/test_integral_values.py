"""Integer variables come back as whole numbers from every back-end, and no value is -0.0."""

from __future__ import annotations

import math
from typing import Any

import pytest

from solvers.base import NeverCancel, NullProgress
from solvers.milp import KIND
from solvers.milp.schema import VarType


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_flugpl_integer_values_are_integral_and_zeros_unsigned(load_dev: Any, solver: str) -> None:
    model = load_dev("flugpl")
    spec = KIND.solvers[solver]
    result = spec.load().solve(model, spec.options(rel_gap=0.0), NullProgress(), NeverCancel())
    values = (result.solution or {})["values"]
    for name, kind in zip(model.var_names, model.var_types, strict=True):
        if kind == VarType.integer:
            assert values[name] == round(values[name]), (name, values[name])
        assert math.copysign(1.0, values[name]) > 0 or values[name] != 0, name
    verification = KIND.check(model, result.solution or {})
    assert verification.feasible and verification.objective == pytest.approx(1201500.0, rel=1e-9)


def test_solution_dict_rounds_only_integer_variables() -> None:
    model = KIND.parse(KIND.example)  # x integer, y continuous, z binary
    values = model.solution_dict([5.999999999999977, 0.4999999, -0.0])["values"]
    assert values == {"x": 6.0, "y": 0.4999999, "z": 0.0} and math.copysign(1.0, values["z"]) == 1.0
