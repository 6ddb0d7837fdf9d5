"""Per-tenant request-rate quota (a token bucket) and concurrency caps, per API process.

Kept in process memory (no shared store) on purpose: it protects each API process from a flood
at no per-request cost; the concurrent-job quota, which must hold across processes, is counted
in the database instead (see app/api/jobs.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.errors import ProblemError
from app.settings import get_settings


class TokenBucket:
    """Allows ``rate_per_minute`` requests a minute with bursts up to that many."""

    def __init__(self, rate_per_minute: int) -> None:
        self.capacity = float(rate_per_minute)
        self.refill_per_s = rate_per_minute / 60.0
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token; returns 0 when allowed, else seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_s


_buckets: dict[int, TokenBucket] = {}
_lock = threading.Lock()


def check_request_rate(tenant_id: int) -> None:
    """Raise 429 with Retry-After when the tenant is over its request rate."""
    rate = get_settings().tenant_requests_per_minute
    with _lock:
        bucket = _buckets.setdefault(tenant_id, TokenBucket(rate))
        wait = bucket.take()
    if wait > 0:
        raise ProblemError(
            429,
            f"Over the request rate of {rate} per minute for this tenant.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


class TenantConcurrency:
    """At most ``limit`` things of one sort (open event streams, heavy requests) per tenant in this process.

    Per process, like the request rate: it bounds what one tenant can make one API process hold.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.open: dict[int, int] = {}
        self.lock = threading.Lock()

    def acquire(self, tenant_id: int, limit: int) -> Callable[[], None]:
        """Take a slot or raise 429; returns the slot's release, which is safe to call more than once."""
        with self.lock:
            if self.open.get(tenant_id, 0) >= limit:
                raise ProblemError(
                    429,
                    f"This tenant already has {limit} {self.what} open on this server; close one first.",
                    headers={"Retry-After": str(get_settings().retry_after_s)},
                )
            self.open[tenant_id] = self.open.get(tenant_id, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            with self.lock:
                if not released:
                    released = True
                    self.open[tenant_id] -= 1

        return release

    @contextmanager
    def slot(self, tenant_id: int, limit: int) -> Iterator[None]:
        """Hold a slot for the duration of a block (429 when none is free)."""
        release = self.acquire(tenant_id, limit)
        try:
            yield
        finally:
            release()


EVENT_STREAMS = TenantConcurrency("event streams")
HEAVY_REQUESTS = TenantConcurrency("heavy requests (submissions, validations, results, pictures)")
