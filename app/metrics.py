"""Prometheus metrics: HTTP requests from this process; jobs, queue depth and solve durations from the database."""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import Job, get_sessionmaker

DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


class JobsCollector(Collector):
    """Reads job counts and solve durations from the system of record at scrape time."""

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("solvent_jobs", "Jobs by kind and status", labels=["kind", "status"])
        queue = GaugeMetricFamily("solvent_queue_depth", "Queued jobs by kind", labels=["kind"])
        durations = HistogramMetricFamily(
            "solvent_solve_duration_seconds",
            "Wall time of finished jobs, started to finished",
            labels=["kind"],
        )
        try:
            with get_sessionmaker()() as session:
                rows = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status))
                for kind, status, count in rows:
                    jobs.add_metric([kind, status], count)
                    if status == "queued":
                        queue.add_metric([kind], count)
                finished = session.execute(
                    select(Job.kind, Job.started_at, Job.finished_at).where(
                        Job.finished_at.is_not(None), Job.started_at.is_not(None)
                    )
                ).all()
        except Exception:
            return
        by_kind: dict[str, list[float]] = {}
        for kind, started, ended in finished:
            by_kind.setdefault(kind, []).append((ended - started).total_seconds())
        for kind, values in by_kind.items():
            buckets = [(str(b), float(sum(v <= b for v in values))) for b in DURATION_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            durations.add_metric([kind], buckets, sum(values))
        yield jobs
        yield queue
        yield durations


REGISTRY = CollectorRegistry()
REGISTRY.register(JobsCollector())
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


def metrics_response() -> Response:
    """The Prometheus text exposition."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
