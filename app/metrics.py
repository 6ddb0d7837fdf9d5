"""Prometheus metrics: HTTP requests from this process; jobs, queue depth and solve durations from the database."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import Job, JobStatus, get_sessionmaker
from app.errors import ProblemError
from app.settings import get_settings

DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


def _duration_seconds(dialect: str) -> ColumnElement[Any]:
    """A finished job's started-to-finished seconds, computed by the database."""
    if dialect == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


def read_job_metrics() -> list[Metric]:
    """Job counts, queue depth and the solve-duration histogram, aggregated by the database (a few rows back)."""
    jobs = GaugeMetricFamily("solvent_jobs", "Jobs by kind and status", labels=["kind", "status"])
    queue = GaugeMetricFamily("solvent_queue_depth", "Queued jobs by kind", labels=["kind"])
    durations = HistogramMetricFamily(
        "solvent_solve_duration_seconds", "Wall time of finished jobs, started to finished", labels=["kind"]
    )
    with get_sessionmaker()() as session:
        for kind, status, count in session.execute(
            select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        ):
            jobs.add_metric([kind, status], count)
            if status == JobStatus.QUEUED:
                queue.add_metric([kind], count)
        seconds = _duration_seconds(session.get_bind().dialect.name)
        per_bucket = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
        histogram = (
            select(Job.kind, func.count(), func.coalesce(func.sum(seconds), 0.0), *per_bucket)
            .where(Job.finished_at.is_not(None), Job.started_at.is_not(None))
            .group_by(Job.kind)
        )
        for kind, count, total, *counts in session.execute(histogram):
            buckets = [(str(bound), float(n)) for bound, n in zip(DURATION_BUCKETS, counts, strict=True)]
            durations.add_metric([kind], [*buckets, ("+Inf", float(count))], float(total))
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
