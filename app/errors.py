"""Errors as ``application/problem+json`` (RFC 9457), with field-level ``errors`` where they apply."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.settings import get_settings

log = logging.getLogger("solvent.api")

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"https://solvent.dev/problems/{status}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _request_loc(loc: tuple[Any, ...]) -> list[Any]:
    """One convention for every error: a body field's path from the body's top (no "body" prefix, as the
    kinds' own errors), a query parameter or header as ["query" | "header", name]."""
    parts = [part if isinstance(part, (str, int)) else str(part) for part in loc]
    return parts[1:] if parts[:1] == ["body"] and len(parts) > 1 else parts


#: Errors of an unreachable database, from the ORM and from the submission path's own pool (app/submission.py).
DATABASE_OUTAGES = (OperationalError, PoolTimeout, InterfaceError, psycopg.OperationalError, psycopg_pool.PoolTimeout)


def database_unavailable(exc: Exception) -> JSONResponse:
    """The 503 (with Retry-After) that answers any request met by a database outage."""
    log.warning("database unavailable: %s", exc)
    retry = str(get_settings().retry_after_s)
    return problem_response(503, "The database is unreachable; retry later.", headers={"Retry-After": retry})


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem_response; database outages become 503."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, errors=exc.errors, title=exc.title, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        body_unparsable = False
        about_body = False
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            about_body = about_body or loc[:1] == ("body",)
            if err.get("type") in ("json_invalid", "model_attributes_type") or (
                err.get("type") == "missing" and loc == ("body",)
            ):
                body_unparsable = body_unparsable or err.get("type") == "json_invalid"
            errors.append({"loc": _request_loc(loc), "msg": str(err.get("msg", ""))})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if about_body and not (content_type == "application/json" or content_type.endswith("+json")):
            shown = content_type or "none"
            return problem_response(
                400,
                f"The body must be sent with Content-Type: application/json (it was {shown}).",
                errors=[{"loc": ["header", "content-type"], "msg": f"expected application/json, got {shown}"}],
            )
        if body_unparsable:
            return problem_response(400, "The request body is not valid JSON.", errors=errors)
        return problem_response(422, "The request is invalid; see errors.", errors=errors)

    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(exc)

    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, _database_down)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem_response(500, "An unexpected error occurred; it has been logged.")
