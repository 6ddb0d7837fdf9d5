"""Request dependencies and the header-first authentication of every ``/v1`` request.

``AuthenticateFirst`` checks the API key and the request rate from the headers alone, before anything
reads or parses the body, so an unauthenticated request costs a key lookup and nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import get_sessionmaker
from app.errors import DATABASE_OUTAGES, ProblemError, database_unavailable, problem_response
from app.quotas import HEAVY_REQUESTS, check_request_rate
from app.security import cached_tenant_for_key, tenant_for_key
from app.settings import get_settings

AUTHENTICATED_PREFIX = "/v1"


def db_session() -> Iterator[Session]:
    """A session for one request; the route commits what it wants kept."""
    with get_sessionmaker()() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session)]


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header."""
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def admitted(tenant_id: int | None) -> int:
    """The tenant, once its request is within the rate; 401 without a tenant, 429 over the rate."""
    if tenant_id is None:
        raise ProblemError(
            401,
            "A valid API key is required: send 'Authorization: Bearer <api-key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    check_request_rate(tenant_id)
    return tenant_id


def authenticate(authorization: str | None) -> int:
    """The tenant of a ``Bearer`` key (cached, else in a short session of its own); 401 or 429 as ``admitted``."""
    key = bearer_key(authorization)
    tenant_id = None
    if key is not None:
        tenant_id = cached_tenant_for_key(key)
        if tenant_id is None:
            with get_sessionmaker()() as session:
                tenant_id = tenant_for_key(session, key)
    return admitted(tenant_id)


async def authenticate_async(authorization: str | None) -> int:
    """``authenticate`` for the event loop: a cached key is answered in place, a lookup runs in a thread."""
    key = bearer_key(authorization)
    tenant_id = cached_tenant_for_key(key) if key is not None else None
    if tenant_id is not None:
        return admitted(tenant_id)
    return await anyio.to_thread.run_sync(authenticate, authorization)


class AuthenticateFirst:
    """ASGI middleware: authenticate ``/v1`` requests from their headers before the body is read.

    FastAPI reads and parses a body before it solves dependencies, so a dependency alone would let an
    unauthenticated client make the server read and parse up to the body limit. The tenant found here
    is left in the request state for ``current_tenant``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == AUTHENTICATED_PREFIX or path.startswith(AUTHENTICATED_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        authorization = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        try:
            tenant_id = await authenticate_async(authorization or None)
        except ProblemError as exc:
            response = problem_response(exc.status, exc.detail, headers=exc.headers)
            await response(scope, receive, send)
            return
        except DATABASE_OUTAGES as exc:  # outside FastAPI's handlers: answer the outage here, as they would
            await database_unavailable(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["tenant_id"] = tenant_id
        await self.app(scope, receive, send)


async def current_tenant(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <api-key>")] = None,
) -> int:
    """The caller's tenant: as ``AuthenticateFirst`` found it, else from the Authorization header."""
    tenant_id = getattr(request.state, "tenant_id", None)
    return int(tenant_id) if tenant_id is not None else await authenticate_async(authorization)


TenantDep = Annotated[int, Depends(current_tenant)]


async def heavy_request(tenant_id: TenantDep) -> AsyncIterator[None]:
    """A slot of the tenant's heavy requests (parsing an instance, building a result or a picture) for this one.

    429 when the tenant already has ``tenant_max_heavy_requests`` of them in progress in this process.
    (Async, as taking a slot never blocks: no thread hand-off for it.)
    """
    with HEAVY_REQUESTS.slot(tenant_id, get_settings().tenant_max_heavy_requests):
        yield


HeavyRequest = Depends(heavy_request)
