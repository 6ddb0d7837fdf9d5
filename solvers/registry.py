"""The registry of problem kinds, in one explicit ordered mapping (as cvxpy's solvers/defines.py)."""

from __future__ import annotations

import importlib
from functools import cache

from solvers.base import Kind

#: kind name -> module whose ``KIND`` attribute is the :class:`~solvers.base.Kind`.
KIND_MODULES: dict[str, str] = {
    "milp": "solvers.milp",
}


@cache
def get_kind(name: str) -> Kind:
    """The kind called ``name``; KeyError if there is none."""
    module = importlib.import_module(KIND_MODULES[name])
    kind: Kind = module.KIND
    return kind


def all_kinds() -> list[Kind]:
    """Every registered kind, in registry order."""
    return [get_kind(name) for name in KIND_MODULES]
