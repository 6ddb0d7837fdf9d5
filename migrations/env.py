"""Alembic environment: the database URL comes from SOLVENT_DATABASE_URL (app settings)."""

from __future__ import annotations

from alembic import context

from app.db import Base, make_engine
from app.settings import get_settings

target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online against the configured database."""
    url = context.config.attributes.get("database_url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
