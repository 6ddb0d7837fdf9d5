"""Typed exceptions: one per HTTP status of the API, each carrying the problem+json fields."""

from __future__ import annotations

from typing import Any


class SolventError(Exception):
    """Base of every error this client raises."""


class ApiError(SolventError):
    """The server answered with a problem document (RFC 9457)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        type: str = "about:blank",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.type = type
        self.headers = headers or {}


class BadRequest(ApiError):
    """400: the body is not JSON, or not declared as JSON."""


class Unauthorized(ApiError):
    """401: no key, or a key the server does not know."""


class NotFound(ApiError):
    """404: no such job for this tenant, or no such kind or solver."""


class Conflict(ApiError):
    """409: the job's state does not allow it (e.g. the result of an unfinished job)."""


class PayloadTooLarge(ApiError):
    """413: the request body is over the server's limit."""


class InvalidRequest(ApiError):
    """422: the instance or the options are invalid; ``errors`` says where (``loc``) and what (``msg``)."""


class RateLimited(ApiError):
    """429: over the tenant's rate or job quota (raised once retries are used up)."""


class Unavailable(ApiError):
    """503: the database or broker is unreachable (raised once retries are used up)."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    503: Unavailable,
}


class JobFailed(SolventError):
    """The job ended ``failed``: no result exists. ``code`` and ``message`` are the job's ``error``."""

    def __init__(self, job_id: str, code: str, message: str) -> None:
        super().__init__(f"job {job_id} failed ({code}): {message}")
        self.job_id = job_id
        self.code = code
        self.message = message


class WaitTimeout(SolventError, TimeoutError):
    """``Job.wait`` gave up before the job ended (the job itself goes on)."""
