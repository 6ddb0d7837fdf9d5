"""Request dependencies: the database session (owned by the request) and the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.errors import ProblemError
from app.quotas import check_request_rate
from app.security import tenant_for_key


def db_session() -> Iterator[Session]:
    """A session for one request; the route commits what it wants kept."""
    with get_sessionmaker()() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session)]


def current_tenant(
    session: SessionDep,
    authorization: Annotated[str | None, Header(description="Bearer <api-key>")] = None,
) -> int:
    """The tenant of the presented API key; 401 without a valid one, 429 over the request rate."""
    scheme, _, key = (authorization or "").partition(" ")
    tenant_id = tenant_for_key(session, key.strip()) if scheme.lower() == "bearer" else None
    if tenant_id is None:
        raise ProblemError(
            401,
            "A valid API key is required: send 'Authorization: Bearer <api-key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    check_request_rate(tenant_id)
    return tenant_id


TenantDep = Annotated[int, Depends(current_tenant)]
