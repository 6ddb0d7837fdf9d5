"""Options of the milp solvers (importable without any native solver library)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from solvers.base import CommonOptions


class HighsOptions(CommonOptions):
    """Options of the HiGHS back-end."""

    presolve: Literal["choose", "on", "off"] = Field("choose", description="HiGHS presolve setting.")


class CpsatOptions(CommonOptions):
    """Options of the OR-Tools CP-SAT back-end."""

    max_scale: float = Field(
        1e6,
        ge=1,
        le=1e9,
        description="Largest factor data may be multiplied by to become integral; beyond it: refused.",
    )


class ScipOptions(CommonOptions):
    """Options of the SCIP back-end."""

    presolve: Literal["default", "off", "aggressive", "fast"] = Field(
        "default", description="SCIP presolving emphasis."
    )
