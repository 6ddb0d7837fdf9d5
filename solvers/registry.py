"""The registry of problem kinds, in one explicit ordered mapping (as cvxpy's solvers/defines.py).

Further kinds can be plugged in without editing this file through the environment variable
``SOLVENT_EXTRA_KINDS="name=package.module,…"`` (the test suite registers its fake kind this way).
"""

from __future__ import annotations

import importlib
import os
from functools import cache

from solvers.base import Kind

#: kind name -> module whose ``KIND`` attribute is the :class:`~solvers.base.Kind`.
KIND_MODULES: dict[str, str] = {
    "milp": "solvers.milp",
    "knapsack_2ro": "solvers.knapsack_2ro",
    "task_allocation": "solvers.task_allocation",
    "treemap": "solvers.treemap",
    "xva": "solvers.xva",
}


def _extra_kinds(spec: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in spec.split(",") if "=" in item)
    return {name.strip(): module.strip() for name, module in pairs}


KIND_MODULES.update(_extra_kinds(os.environ.get("SOLVENT_EXTRA_KINDS", "")))


@cache
def get_kind(name: str) -> Kind:
    """The kind called ``name``; KeyError if there is none."""
    module = importlib.import_module(KIND_MODULES[name])
    kind: Kind = module.KIND
    return kind


def all_kinds() -> list[Kind]:
    """Every registered kind, in registry order."""
    return [get_kind(name) for name in KIND_MODULES]


def trainers() -> dict[str, str]:
    """Kind name -> the trainer module of its learned solver (``SolverSpec.trainer``), for kinds that have one."""
    return {kind.name: spec.trainer for kind in all_kinds() for spec in kind.solvers.values() if spec.trainer}
