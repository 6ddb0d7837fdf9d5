"""Per-tenant request-rate quota: a token bucket per API process.

Kept in process memory (no shared store) on purpose: it protects each API process from a flood
at no per-request cost; the concurrent-job quota, which must hold across processes, is counted
in the database instead (see app/api/jobs.py).
"""

from __future__ import annotations

import math
import threading
import time

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
