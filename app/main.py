"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import broker, submission
from app.api import console, health, jobs, kinds, webhooks
from app.deps import AuthenticateFirst
from app.errors import install_error_handlers, problem_response
from app.metrics import RequestMetrics, metrics_response
from app.openapi import install_openapi
from app.security import require_key_secret
from app.settings import get_settings


class BodySizeLimit:
    """Answer 413 when a request body is over the limit, by Content-Length or by bytes actually sent.

    Not FastAPI's ``max_body_size``: that answers a declared-too-large body in plain text, not problem+json.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(413, self._detail())(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException, because FastAPI turns any other error while reading the body into a 400.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"The request body is over the limit of {self.max_bytes} bytes."


class TrailingSlash:
    """Route ``/v1/jobs/`` as ``/v1/jobs`` instead of answering an empty 307 (a redirected POST loses its body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            trimmed = path.rstrip("/") or "/"
            scope = {**scope, "path": trimmed, "raw_path": trimmed.encode()}
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Browser-hardening headers on every response; API responses (JSON, SVG) also forbid scripts and caching.

    The interactive docs (/docs) load Swagger UI's scripts, so they get the first set only.
    """

    ALWAYS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )
    API = (
        (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.ALWAYS + (self.API if scope.get("path", "").startswith("/v1") else ())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """At shutdown, once the last request was answered: ring the doorbells still waiting, close the pools."""
    yield
    await broker.close_ringer()
    await submission.close_submission_pool()


def create_app() -> FastAPI:
    """Build the API application."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = FastAPIOffline(  # /docs with its scripts served from here, not from a CDN
        title="Solvent",
        version="1.0.0",
        description="Optimization as a service: submit problem instances, get verified answers. "
        "Press Authorize and paste an API key to try the /v1 operations here.",
        redoc_url=None,
        lifespan=lifespan,
    )
    require_key_secret()
    install_openapi(app)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=get_settings().max_body_bytes)
    app.add_middleware(AuthenticateFirst)
    app.add_middleware(RequestMetrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrailingSlash)  # outermost: everything inside sees the trimmed path
    app.include_router(jobs.router)
    app.include_router(kinds.router)
    app.include_router(webhooks.router)
    app.include_router(console.router)
    app.include_router(health.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        return metrics_response(authorization)

    return app
