"""The xva tests exercise the pure library: they need no database."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def database() -> str:
    """Overrides the repository-wide autouse PostgreSQL fixture: solvers/ knows no database."""
    return ""
