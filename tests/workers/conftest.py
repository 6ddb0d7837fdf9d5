"""Every test here talks to the real database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _real_database(database: str) -> None:
    """Create the session's database before any test of this folder."""
