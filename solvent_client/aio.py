"""The asynchronous client: the same calls as ``Client`` and ``Job``, awaited (``async for`` for events)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from solvent_client import _core
from solvent_client._core import Event, JobView, Result
from solvent_client.errors import Conflict, WaitTimeout


class AsyncClient:
    """``Client`` for asyncio: the same arguments, retries and idempotency keys."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("SOLVENT_URL", "http://127.0.0.1:8000")
        key = key or os.environ.get("SOLVENT_KEY", "")
        self.url = url.rstrip("/")
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with retries; an error answer raises the ApiError subclass of its status."""
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == self.max_retries:
                    raise
                await asyncio.sleep(_core.retry_delay(None, attempt))
                continue
            if response.status_code in (429, 503) and attempt < self.max_retries:
                await asyncio.sleep(_core.retry_delay(response, attempt))
                continue
            if response.is_error:
                raise _core.api_error(response)
            return response
        raise AssertionError("unreachable")  # the loop returns or raises

    async def submit(
        self,
        kind: str,
        instance: Any,
        *,
        solver: str = "auto",
        options: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
    ) -> AsyncJob:
        """Submit a job; ``instance`` is a dict, a file path (.mps/.lp/.json/.csv/A&D) or a typed model."""
        body = _core.job_request(kind, instance, solver, options, metadata, priority)
        key = idempotency_key or _core.new_idempotency_key()
        response = await self.request("POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key})
        return AsyncJob(self, response.json())

    async def job(self, job_id: str) -> AsyncJob:
        """The job with this id (NotFound if this tenant has none)."""
        return AsyncJob(self, (await self.request("GET", f"/v1/jobs/{job_id}")).json())

    async def jobs(
        self, *, kind: str | None = None, status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[AsyncJob]:
        """Every job of the tenant, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            params = {"kind": kind, "status": status, "limit": page_size, "cursor": cursor}
            answer = await self.request("GET", "/v1/jobs", params={k: v for k, v in params.items() if v is not None})
            page = answer.json()
            for item in page["items"]:
                yield AsyncJob(self, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def kinds(self) -> list[dict[str, Any]]:
        """The problem kinds and their solvers."""
        kinds: list[dict[str, Any]] = (await self.request("GET", "/v1/kinds")).json()
        return kinds

    async def validate(self, kind: str, instance: Any) -> dict[str, Any]:
        """The instance's summary if the server accepts it; InvalidRequest with every error otherwise."""
        body = _core.instance_from(kind, instance)
        answer: dict[str, Any] = (await self.request("POST", f"/v1/kinds/{kind}/validate", json=body)).json()
        return answer


class AsyncJob(JobView):
    """A submitted job; ``data`` is the job object as last fetched."""

    def __init__(self, client: AsyncClient, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.client = client

    async def refresh(self) -> AsyncJob:
        """Fetch the job again."""
        self.data = (await self.client.request("GET", f"/v1/jobs/{self.id}")).json()
        return self

    async def wait(
        self,
        timeout: float | None = None,
        progress: Callable[[AsyncJob], Awaitable[None] | None] | None = None,
    ) -> AsyncJob:
        """Poll until the job ends, calling ``progress(job)`` after each poll; WaitTimeout after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.1
        while True:
            await self.refresh()
            if progress is not None:
                called = progress(self)
                if called is not None:
                    await called
            if self.finished:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {self.id} is still {self.status} after {timeout} s")
            pause = interval if deadline is None else min(interval, max(deadline - time.monotonic(), 0))
            await asyncio.sleep(pause)
            interval = _core.next_poll_interval(interval)

    async def result(self) -> Result:
        """The result: JobFailed if the job failed, Conflict if it has not ended (or was cancelled with none)."""
        try:
            return Result.from_json((await self.client.request("GET", f"/v1/jobs/{self.id}/result")).json())
        except Conflict:
            if (await self.refresh()).status == "failed":
                raise _core.job_failed(self.data) from None
            raise

    async def events(self, after: int = 0, follow: bool = True) -> AsyncIterator[Event]:
        """The job's events in order: live over Server-Sent Events until the job ends, or only those stored now."""
        if not follow:
            answer = await self.client.request("GET", f"/v1/jobs/{self.id}/events", params={"after": after})
            for item in answer.json()["items"]:
                yield Event.from_json(item)
            return
        async with aconnect_sse(
            self.client._http, "GET", f"/v1/jobs/{self.id}/events/stream", params={"after": after}, timeout=None
        ) as source:
            if source.response.is_error:
                await source.response.aread()
                raise _core.api_error(source.response)
            async for message in source.aiter_sse():
                if message.data:
                    yield Event.from_json(message.json())

    async def cancel(self) -> AsyncJob:
        """Ask the job to stop (Conflict if it has already ended); a running job keeps its best solution."""
        self.data = (await self.client.request("POST", f"/v1/jobs/{self.id}/cancel")).json()
        return self

    async def delete(self) -> None:
        """Remove the job, its result and its events."""
        await self.client.request("DELETE", f"/v1/jobs/{self.id}")
