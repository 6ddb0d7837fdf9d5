"""The MPS reader: development files, free vs fixed fields, and each section's semantics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from solvers.base import InvalidInstance
from solvers.milp import KIND
from solvers.milp.mps_format import read_mps
from solvers.milp.schema import MilpModel, VarType

from .conftest import DATA_DIR


def mps(body: str) -> MilpModel:
    model: MilpModel = KIND.parse({"format": "mps", "model": body})
    return model


HEADER = "NAME T\nROWS\n N obj\n L c1\nCOLUMNS\n"


@pytest.mark.parametrize("name", ["afiro", "egout", "flugpl", "small_mip"])
def test_free_and_fixed_reading_agree_on_development_files(name: str) -> None:
    path = DATA_DIR / f"{name}.mps"
    if not path.exists():
        pytest.skip("no development data")
    text = path.read_text()
    free, fixed = read_mps(text, fixed=False), read_mps(text, fixed=True)
    assert free.var_names == fixed.var_names and free.row_names == fixed.row_names
    assert (free.matrix != fixed.matrix).nnz == 0
    assert np.array_equal(free.lb, fixed.lb) and np.array_equal(free.ub, fixed.ub)


def test_small_mip_rows_ranges_and_implicit_binaries(load_dev) -> None:  # type: ignore[no-untyped-def]
    model = load_dev("small_mip")
    # The file's own header comment states these row bounds.
    expected = {"ROW01": (2.5, math.inf), "ROW02": (-math.inf, 2.1), "ROW03": (4.0, 4.0), "ROW04": (1.8, 5.0)}
    expected["ROW05"] = (3.0, 15.0)
    for i, name in enumerate(model.row_names):
        assert (model.row_lb[i], model.row_ub[i]) == pytest.approx(expected[name])
    j3, j4 = model.var_index["COL03"], model.var_index["COL04"]
    assert model.var_types[j3] == VarType.integer and (model.lb[j3], model.ub[j3]) == (0.0, 1.0)
    assert model.var_types[j4] == VarType.integer and (model.lb[j4], model.ub[j4]) == (0.0, 1.0)
    assert model.lb[model.var_index["COL01"]] == 2.5
    assert model.sense == "minimize"


def test_fixed_format_reads_names_with_spaces() -> None:
    text = (
        "NAME          SPACES\n"
        "ROWS\n"
        " N  COST\n"
        " L  LIM 1\n"
        "COLUMNS\n"
        "    X ONE     COST               1.0   LIM 1              1.0\n"
        "RHS\n"
        "    RHS       LIM 1              4.0\n"
        "BOUNDS\n"
        " UP BND       X ONE              3.0\n"
        "ENDATA\n"
    )
    model = mps(text)  # auto: free fails on the field count, fixed succeeds
    assert model.var_names == ["X ONE"] and model.row_names == ["LIM 1"]
    assert model.row_ub[0] == 4.0 and model.ub[0] == 3.0


def test_objsense_inline_and_as_section() -> None:
    body = " x obj 1 c1 1\nRHS\n rhs c1 4\nENDATA"
    assert mps("NAME T\nOBJSENSE MAX\nROWS\n N obj\n L c1\nCOLUMNS\n" + body).sense == "maximize"
    assert mps("NAME T\nOBJSENSE\n    MAXIMIZE\nROWS\n N obj\n L c1\nCOLUMNS\n" + body).sense == "maximize"
    assert mps(HEADER + body).sense == "minimize"


def test_objective_rhs_is_minus_the_offset_and_free_rows_are_dropped() -> None:
    model = mps(
        "NAME\nROWS\n N obj\n N other\n G c1\nCOLUMNS\n x obj 2 other 5\n x c1 1\nRHS\n rhs obj 7 c1 1\nENDATA\n"
    )
    assert model.objective_offset == -7.0 and model.row_names == ["c1"] and model.matrix.nnz == 1


@pytest.mark.parametrize(
    ("row_type", "range_value", "expected"),
    [("E", 3.0, (4.0, 7.0)), ("E", -3.0, (1.0, 4.0)), ("L", -3.0, (1.0, 4.0)), ("G", -3.0, (4.0, 7.0))],
)
def test_ranges(row_type: str, range_value: float, expected: tuple[float, float]) -> None:
    text = f"NAME\nROWS\n N obj\n {row_type} c1\nCOLUMNS\n x c1 1\nRHS\n c1 4\n"
    text += f"RANGES\n rng c1 {range_value}\nENDATA\n"
    model = mps(text)
    assert (model.row_lb[0], model.row_ub[0]) == expected


@pytest.mark.parametrize(
    ("bound_lines", "expected_lb", "expected_ub", "expected_type"),
    [
        (" UP b x 4", 0.0, 4.0, VarType.continuous),
        (" UP b x -4", -math.inf, -4.0, VarType.continuous),
        (" LO b x -2\n UP b x 1e30", -2.0, math.inf, VarType.continuous),
        (" MI b x", -math.inf, math.inf, VarType.continuous),
        (" UP b x 3\n PL b x", 0.0, math.inf, VarType.continuous),
        (" FR b x", -math.inf, math.inf, VarType.continuous),
        (" FX b x 2.5", 2.5, 2.5, VarType.continuous),
        (" BV b x", 0.0, 1.0, VarType.integer),
        (" LI b x 2\n UI b x 9", 2.0, 9.0, VarType.integer),
        (" SC b x 8\n LO b x 2", 2.0, 8.0, VarType.semicontinuous),
        (" UP x 4", 0.0, 4.0, VarType.continuous),  # no bound-set name
    ],
)
def test_bound_types(bound_lines: str, expected_lb: float, expected_ub: float, expected_type: VarType) -> None:
    model = mps(HEADER + f" x obj 1 c1 1\nRHS\n rhs c1 10\nBOUNDS\n{bound_lines}\nENDATA\n")
    assert (model.lb[0], model.ub[0], model.var_types[0]) == (expected_lb, expected_ub, expected_type)


def test_integer_marker_column_with_a_lower_bound_loses_its_implicit_upper_bound() -> None:
    text = HEADER + " m 'MARKER' 'INTORG'\n x obj 1 c1 1\n y c1 1\n m 'MARKER' 'INTEND'\n"
    model = mps(text + "RHS\n rhs c1 10\nBOUNDS\n LO b x 3\nENDATA")
    assert (model.lb[0], model.ub[0]) == (3.0, math.inf)
    assert (model.lb[1], model.ub[1]) == (0.0, 1.0)


def test_missing_final_newline_crlf_tabs_and_comments_are_fine() -> None:
    text = "* comment\r\nNAME\tT\r\nROWS\r\n N\tobj\r\n L\tc1\r\nCOLUMNS\r\n\tx\tobj\t1\tc1\t1\r\n"
    model = mps(text + "*another\r\nRHS\r\n\trhs\tc1\t4\r\nENDATA")
    assert model.row_ub[0] == 4.0 and model.obj[0] == 1.0


def test_gzip_base64_encoding_round_trips(tmp_path: Path) -> None:
    import base64
    import gzip

    text = HEADER + " x obj 1 c1 1\nRHS\n rhs c1 4\nENDATA\n"
    packed = base64.b64encode(gzip.compress(text.encode())).decode()
    model = KIND.parse({"format": "mps", "model": packed, "encoding": "gzip+base64"})
    assert model.var_names == ["x"] and model.row_ub[0] == 4.0


def test_line_numbers_count_only_cr_lf_and_crlf_breaks() -> None:
    text = "* page one\x0cpage two\rNAME T\r\nROWS\n X bad\n"
    with pytest.raises(InvalidInstance, match="line 4: row type"):
        mps(text)
