"""The synchronous client: ``Client(url, key).submit(kind, instance).wait().result()``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import connect_sse

from solvent_client import _core
from solvent_client._core import Event, JobView, Result
from solvent_client.errors import Conflict, WaitTimeout


class Client:
    """A connection to one Solvent server as one tenant.

    ``url`` and ``key`` default to the environment variables ``SOLVENT_URL`` and ``SOLVENT_KEY``. Answers
    429 and 503 are retried (after the server's ``Retry-After``) up to ``max_retries`` times, and so are
    connection errors; submissions carry an idempotency key, so a retried submit never makes two jobs.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("SOLVENT_URL", "http://127.0.0.1:8000")
        key = key or os.environ.get("SOLVENT_KEY", "")
        self.url = url.rstrip("/")
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with retries; an error answer raises the ApiError subclass of its status."""
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == self.max_retries:
                    raise
                time.sleep(_core.retry_delay(None, attempt))
                continue
            if response.status_code in (429, 503) and attempt < self.max_retries:
                time.sleep(_core.retry_delay(response, attempt))
                continue
            if response.is_error:
                raise _core.api_error(response)
            return response
        raise AssertionError("unreachable")  # the loop returns or raises

    def submit(
        self,
        kind: str,
        instance: Any,
        *,
        solver: str = "auto",
        options: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a job; ``instance`` is a dict, a file path (.mps/.lp/.json/.csv/A&D) or a typed model."""
        body = _core.job_request(kind, instance, solver, options, metadata, priority)
        key = idempotency_key or _core.new_idempotency_key()
        response = self.request("POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key})
        return Job(self, response.json())

    def job(self, job_id: str) -> Job:
        """The job with this id (NotFound if this tenant has none)."""
        return Job(self, self.request("GET", f"/v1/jobs/{job_id}").json())

    def jobs(self, *, kind: str | None = None, status: str | None = None, page_size: int = 50) -> Iterator[Job]:
        """Every job of the tenant, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            params = {"kind": kind, "status": status, "limit": page_size, "cursor": cursor}
            page = self.request("GET", "/v1/jobs", params={k: v for k, v in params.items() if v is not None}).json()
            for item in page["items"]:
                yield Job(self, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def kinds(self) -> list[dict[str, Any]]:
        """The problem kinds and their solvers."""
        kinds: list[dict[str, Any]] = self.request("GET", "/v1/kinds").json()
        return kinds

    def validate(self, kind: str, instance: Any) -> dict[str, Any]:
        """The instance's summary if the server accepts it; InvalidRequest with every error otherwise."""
        body = _core.instance_from(kind, instance)
        answer: dict[str, Any] = self.request("POST", f"/v1/kinds/{kind}/validate", json=body).json()
        return answer


class Job(JobView):
    """A submitted job; ``data`` is the job object as last fetched."""

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.client = client

    def refresh(self) -> Job:
        """Fetch the job again."""
        self.data = self.client.request("GET", f"/v1/jobs/{self.id}").json()
        return self

    def wait(self, timeout: float | None = None, progress: Callable[[Job], None] | None = None) -> Job:
        """Poll until the job ends, calling ``progress(job)`` after each poll; WaitTimeout after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.1
        while True:
            self.refresh()
            if progress is not None:
                progress(self)
            if self.finished:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {self.id} is still {self.status} after {timeout} s")
            pause = interval if deadline is None else min(interval, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
            interval = _core.next_poll_interval(interval)

    def result(self) -> Result:
        """The result: JobFailed if the job failed, Conflict if it has not ended (or was cancelled with none)."""
        try:
            return Result.from_json(self.client.request("GET", f"/v1/jobs/{self.id}/result").json())
        except Conflict:
            if self.refresh().status == "failed":
                raise _core.job_failed(self.data) from None
            raise

    def events(self, after: int = 0, follow: bool = True) -> Iterator[Event]:
        """The job's events in order: live over Server-Sent Events until the job ends, or only those stored now."""
        if not follow:
            page = self.client.request("GET", f"/v1/jobs/{self.id}/events", params={"after": after}).json()
            yield from (Event.from_json(item) for item in page["items"])
            return
        with connect_sse(
            self.client._http, "GET", f"/v1/jobs/{self.id}/events/stream", params={"after": after}, timeout=None
        ) as source:
            if source.response.is_error:
                source.response.read()
                raise _core.api_error(source.response)
            for message in source.iter_sse():
                if message.data:
                    yield Event.from_json(message.json())

    def cancel(self) -> Job:
        """Ask the job to stop (Conflict if it has already ended); a running job keeps its best solution."""
        self.data = self.client.request("POST", f"/v1/jobs/{self.id}/cancel").json()
        return self

    def delete(self) -> None:
        """Remove the job, its result and its events."""
        self.client.request("DELETE", f"/v1/jobs/{self.id}")
