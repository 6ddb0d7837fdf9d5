"""The CPLEX LP reader: files written by HiGHS round-trip, and each construct means what CPLEX says."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pytest

from solvers.base import NeverCancel, NullProgress
from solvers.milp import KIND
from solvers.milp.schema import MilpModel, VarType

from .conftest import DATA_DIR, DEV_OPTIMA


def lp(text: str) -> MilpModel:
    model: MilpModel = KIND.parse({"format": "lp", "model": text})
    return model


@pytest.mark.parametrize("name", sorted(DEV_OPTIMA))
def test_lp_files_written_by_highs_give_the_same_model_and_optimum(name: str, tmp_path: Path, load_dev: Any) -> None:
    from_mps = load_dev(name)
    writer = highspy.Highs()  # type: ignore[no-untyped-call]
    writer.silent()
    writer.readModel(str(DATA_DIR / f"{name}.mps"))
    writer.writeModel(str(tmp_path / f"{name}.lp"))
    from_lp = lp((tmp_path / f"{name}.lp").read_text())
    assert sorted(from_lp.var_names) == sorted(from_mps.var_names)
    assert from_lp.num_integer == from_mps.num_integer
    order = [from_lp.var_index[v] for v in from_mps.var_names]
    assert np.allclose(from_lp.obj[order], from_mps.obj)
    highs = KIND.solvers["highs"].load()
    result = highs.solve(from_lp, highs.Options(rel_gap=0.0), NullProgress(), NeverCancel())
    assert result.objective == pytest.approx(DEV_OPTIMA[name], rel=1e-7)
    assert KIND.check(from_lp, result.solution or {}).feasible


def test_objective_constraints_ranges_and_sections() -> None:
    model = lp(
        "\\ comment line\n"
        "MAXIMIZE\n"
        " profit: 3 x + 2y - z + 4 \\ trailing comment\n"
        "   + 0.5 w\n"
        "SUBJECT TO\n"
        " c1: x + y <= 4\n"
        " -2 <= x - z <= 8\n"
        " c3: 2 x + 3 y - 1 >= 1\n"
        " c4: 10 >= x + w >= 2\n"
        " c5: x + x + y = 3\n"
        "BOUNDS\n"
        " x <= 10\n"
        " -1 <= z <= +inf\n"
        " y free\n"
        " w = 2.5\n"
        "GENERALS\n x\n"
        "BINARIES\n b\n"
        "END\n"
        "anything after end is ignored"
    )
    assert model.sense == "maximize" and model.objective_offset == 4.0
    assert model.var_names == ["x", "y", "z", "w", "b"]
    assert model.obj.tolist() == [3.0, 2.0, -1.0, 0.5, 0.0]
    assert model.row_names == ["c1", "R2", "c3", "c4", "c5"]
    assert model.row_lb.tolist() == [-math.inf, -2.0, 2.0, 2.0, 3.0]
    assert model.row_ub.tolist() == [4.0, 8.0, math.inf, 10.0, 3.0]
    assert model.matrix[4, 0] == 2.0  # repeated terms add up
    assert (model.lb[0], model.ub[0], model.var_types[0]) == (0.0, 10.0, VarType.integer)
    assert (model.lb[1], model.ub[1]) == (-math.inf, math.inf)
    assert (model.lb[2], model.ub[2]) == (-1.0, math.inf)
    assert (model.lb[3], model.ub[3]) == (2.5, 2.5)
    assert (model.lb[4], model.ub[4], model.var_types[4]) == (0.0, 1.0, VarType.integer)


def test_semi_continuous_section_needs_and_uses_the_upper_bound() -> None:
    model = lp("min\n obj: s\nst\n c: s >= 0\nbounds\n 2 <= s <= 9\nsemi-continuous\n s\nend")
    assert (model.lb[0], model.ub[0], model.var_types[0]) == (2.0, 9.0, VarType.semicontinuous)


def test_short_keywords_and_no_end_line() -> None:
    model = lp("min: x + y\ns.t.\nx + y >= 2\n2 x - y <= 1\nbin\nx")
    assert model.sense == "minimize" and model.num_rows == 2 and model.num_binary == 1
