"""Alembic: upgrade → downgrade → upgrade works, and the models match the migrations (no drift)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db import Base, make_engine
from tests.conftest import PG_ADMIN, ROOT, RUN_ID


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = f"solvent_migrations_{RUN_ID}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database: str) -> None:
    config = Config(toml_file=str(ROOT / "pyproject.toml"))
    config.attributes["database_url"] = empty_database
    engine = make_engine(empty_database)
    command.upgrade(config, "head")
    tables = {"jobs", "job_results", "job_events", "api_keys", "tenants", "webhook_deliveries", "webhook_attempts"}
    assert tables <= set(inspect(engine).get_table_names())
    command.downgrade(config, "0001")
    assert not {"webhook_deliveries", "webhook_attempts"} & set(inspect(engine).get_table_names())
    assert "webhook_url" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    with engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert drift == []
