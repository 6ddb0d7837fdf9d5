"""Python client of the Solvent HTTP API (sync and asyncio); needs only httpx and httpx-sse.

from solvent_client import Client
with Client("http://127.0.0.1:8000", "slv_…") as client:
    job = client.submit("milp", "examples/milp/flugpl.mps", options={"time_limit_s": 60})
    print(job.wait(timeout=120).result().objective)
"""

from solvent_client._core import Event, Result, instance_from
from solvent_client.aio import AsyncClient, AsyncJob
from solvent_client.client import Client, Job
from solvent_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    InvalidRequest,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SolventError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "BadRequest",
    "Client",
    "Conflict",
    "Event",
    "InvalidRequest",
    "Job",
    "JobFailed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Result",
    "SolventError",
    "Unauthorized",
    "Unavailable",
    "WaitTimeout",
    "instance_from",
]
