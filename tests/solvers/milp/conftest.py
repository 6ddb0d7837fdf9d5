"""Shared fixtures of the milp tests: the development MPS files of the repository's examples/milp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from solvers.milp import KIND
from solvers.milp.schema import MilpModel

DATA_DIR = Path(__file__).resolve().parents[3] / "examples" / "milp"
#: Known optima of the development files (MIPLIB / netlib reference values).
DEV_OPTIMA = {"flugpl": 1201500.0, "afiro": -464.7531428571, "egout": 568.1007, "small_mip": 3.236842105263}


@pytest.fixture
def load_dev() -> Any:
    """A function name -> parsed development model."""

    def load(name: str) -> MilpModel:
        path = DATA_DIR / f"{name}.mps"
        model: MilpModel = KIND.parse({"format": "mps", "model": path.read_text()})
        return model

    return load
