"""Prometheus metrics: HTTP requests from this process; jobs, queue depth and solve durations from the database."""

from __future__ import annotations

import hmac
import itertools
import math
import threading
import time
from collections.abc import Iterator

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import ACTIVE, FinishedJobStats, Job, JobStatus, get_sessionmaker
from app.errors import ProblemError
from app.rollup import DURATION_BUCKETS, NEVER_STARTED
from app.settings import get_settings


def read_job_metrics() -> list[Metric]:
    """Job counts, queue depth and the solve-duration histogram: active jobs counted by the database (an
    index range), finished ones read from the roll-up kept as they finish (a few rows, whatever the history)."""
    jobs = GaugeMetricFamily(
        "solvent_jobs",
        "Jobs by kind and status (finished statuses: every job that ever ended so)",
        labels=["kind", "status"],
    )
    queue = GaugeMetricFamily("solvent_queue_depth", "Queued jobs by kind", labels=["kind"])
    durations = HistogramMetricFamily(
        "solvent_solve_duration_seconds", "Wall time of finished jobs, started to finished", labels=["kind"]
    )
    with get_sessionmaker()() as session:
        active = select(Job.kind, Job.status, func.count()).where(Job.status.in_(ACTIVE)).group_by(Job.kind, Job.status)
        for kind, status, count in session.execute(active):
            jobs.add_metric([kind, status], count)
            if status == JobStatus.QUEUED:
                queue.add_metric([kind], count)
        stats = FinishedJobStats
        finished = select(stats.kind, stats.status, stats.bucket, stats.jobs, stats.seconds)
        per_status: dict[tuple[str, str], int] = {}
        per_bucket: dict[str, list[int]] = {}
        total_s: dict[str, float] = {}
        for kind, status, bucket, count, seconds in session.execute(finished):
            per_status[kind, status] = per_status.get((kind, status), 0) + count
            if bucket != NEVER_STARTED:
                per_bucket.setdefault(kind, [0] * (len(DURATION_BUCKETS) + 1))[bucket] += count
                total_s[kind] = total_s.get(kind, 0.0) + seconds
    for (kind, status), count in sorted(per_status.items()):
        jobs.add_metric([kind, status], count)
    for kind, counts in sorted(per_bucket.items()):
        cumulative = list(itertools.accumulate(counts))
        buckets = [(str(bound), float(n)) for bound, n in zip(DURATION_BUCKETS, cumulative, strict=False)]
        durations.add_metric([kind], [*buckets, ("+Inf", float(cumulative[-1]))], total_s[kind])
    return [jobs, queue, durations]


class JobsCollector(Collector):
    """Job metrics from the system of record, read at most once per ``metrics_cache_s`` per process.

    Concurrent scrapes wait for the one read in progress instead of starting their own.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cached: list[Metric] = []
        self.read_at = -math.inf

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if time.monotonic() - self.read_at >= get_settings().metrics_cache_s:
                try:
                    self.cached = read_job_metrics()
                except SQLAlchemyError:
                    self.cached = []  # the database is down: serve the process metrics alone
                self.read_at = time.monotonic()
            cached = self.cached
        yield from cached


REGISTRY = CollectorRegistry()
JOB_METRICS = JobsCollector()
REGISTRY.register(JOB_METRICS)
REQUESTS = Counter("solvent_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("solvent_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY)


class RequestMetrics:
    """ASGI middleware counting requests by route template and status (pure ASGI: it never touches the body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - start)


def metrics_response(authorization: str | None) -> Response:
    """The Prometheus text exposition, for callers presenting ``SOLVENT_METRICS_TOKEN`` as a Bearer token.

    Without a configured token the endpoint is off (404): job counts of every tenant are not public.
    """
    token = get_settings().metrics_token
    if not token:
        raise ProblemError(404, "Metrics are off on this server; set SOLVENT_METRICS_TOKEN to turn them on.")
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise ProblemError(
            401, "Metrics need 'Authorization: Bearer <SOLVENT_METRICS_TOKEN>'.", headers={"WWW-Authenticate": "Bearer"}
        )
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
