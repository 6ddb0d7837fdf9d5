"""Measure the API-process findings of the security review (issue 20) and print a table for docs/reliability.md.

    python bench/api_security.py [--finished-jobs 400000] [--streams 30] [--result-values 1000000]

Needs PostgreSQL on 127.0.0.1 (SOLVENT_BENCH_PG to change); makes and drops a scratch database. The API runs
in this process under uvicorn (one process, as one of compose's API workers); no worker is needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

PG_ADMIN = os.environ.get("SOLVENT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = f"solvent_bench_{secrets.token_hex(4)}"
METRICS_TOKEN = "bench-" + secrets.token_hex(8)
os.environ.update(
    SOLVENT_DATABASE_URL=PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{DATABASE}",
    SOLVENT_BROKER_URL="redis://127.0.0.1:1/0",  # unreachable on purpose: jobs stay queued, the reaper would ring
    SOLVENT_API_KEY_SECRET=secrets.token_hex(16),
    SOLVENT_METRICS_TOKEN=METRICS_TOKEN,
    SOLVENT_EXTRA_KINDS="fake=tests.fake_kind",
)


def fill_finished_jobs(url: str, count: int) -> None:
    """``count`` finished jobs of three kinds with durations spread over 0–600 s, inserted by the database."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (name, created_at) VALUES ('bench-history', now())")
        conn.execute(
            """
            INSERT INTO jobs (id, tenant_id, kind, solver, status, priority, options, metadata, instance,
                              created_at, started_at, finished_at, attempts, cancel_requested)
            SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = 'bench-history'),
                   (ARRAY['milp', 'treemap', 'xva'])[1 + i %% 3], 'auto', 'succeeded', 0, '{}', '{}', '{}',
                   now() - interval '1 day', now() - interval '1 day',
                   now() - interval '1 day' + (i %% 600) * interval '1 second', 1, false
            FROM generate_series(1, %s) AS i
            """,
            (count,),
        )
        conn.execute("ANALYZE jobs")


def serve() -> tuple[str, Any]:
    import uvicorn

    from app.main import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def new_key(tenant: str) -> dict[str, str]:
    from app.db import get_sessionmaker
    from app.security import create_key

    with get_sessionmaker()() as session:
        key = create_key(session, tenant).key
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def timed(action: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = action()
    return value, time.perf_counter() - start


def measure_metrics(url: str) -> list[tuple[str, str]]:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    unauthenticated = httpx.get(f"{url}/metrics", timeout=60).status_code
    cold, cold_s = timed(lambda: httpx.get(f"{url}/metrics", headers=auth, timeout=120))
    with ThreadPoolExecutor(4) as pool:
        parallel = list(
            pool.map(lambda _: timed(lambda: httpx.get(f"{url}/metrics", headers=auth, timeout=120)), range(4))
        )
    return [
        ("/metrics without the token", f"{unauthenticated}"),
        ("/metrics, first scrape", f"{cold.status_code} in {cold_s:.2f} s"),
        ("/metrics, 4 parallel scrapes (within the cache period)", f"max {max(s for _, s in parallel):.3f} s"),
    ]


def measure_streams(url: str, streams: int) -> list[tuple[str, str]]:
    opened: list[Any] = []
    statuses: list[int] = []
    tenants = max(1, streams // 10)
    clients = [httpx.Client(timeout=60) for _ in range(streams)]
    try:
        for t in range(tenants):
            headers = new_key(f"bench-stream-{t}")
            job = httpx.post(f"{url}/v1/jobs", json={"kind": "fake", "instance": {"steps": 1}}, headers=headers)
            for client in clients[t * 10 : (t + 1) * 10]:
                response = client.send(
                    client.build_request("GET", f"{url}/v1/jobs/{job.json()['id']}/events/stream", headers=headers),
                    stream=True,
                )
                statuses.append(response.status_code)
                opened.append(response)
        time.sleep(2)
        other = new_key("bench-other")
        latencies = [timed(lambda: httpx.get(f"{url}/v1/jobs", headers=other, timeout=60))[1] for _ in range(10)]
        answered = httpx.get(f"{url}/v1/jobs", headers=other, timeout=60).status_code
    finally:
        for response in opened:
            response.close()
        for client in clients:
            client.close()
    return [
        (f"{len(opened)} open event streams ({tenants} tenants)", f"{statuses.count(200)} answered 200"),
        ("another tenant's GET /v1/jobs meanwhile", f"{answered}, median {statistics.median(latencies):.3f} s"),
    ]


def measure_quota(url: str) -> list[tuple[str, str]]:
    from app.settings import get_settings

    headers = new_key("bench-quota")
    get_settings().tenant_max_active_jobs = 2
    barrier = threading.Barrier(10)

    def submit(_: int) -> int:
        barrier.wait()
        body = {"kind": "fake", "instance": {"steps": 1}}
        return httpx.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(submit, range(10)))
    return [("10 parallel submits, quota 2", f"{codes.count(202)} created, {codes.count(429)} answered 429")]


def measure_large_result(url: str, values: int) -> list[tuple[str, str]]:
    """GET /result of a finished job whose solution has ``values`` entries: first request, then stored."""
    from app.db import Job, JobResult, get_sessionmaker, utcnow
    from app.store import get_or_create_tenant

    headers = new_key("bench-result")
    with get_sessionmaker()() as session:
        tenant = get_or_create_tenant(session, "bench-result")
        job = Job(
            tenant_id=tenant.id, kind="milp", solver="highs", status="succeeded", options={}, client_metadata={},
            instance="{}", created_at=utcnow(), started_at=utcnow(), finished_at=utcnow(),
        )  # fmt: skip
        session.add(job)
        session.flush()
        solution = {"values": {f"x{i}": float(i % 7) for i in range(values)}}
        session.add(JobResult(job_id=job.id, attempt=1, data={"status": "optimal", "solution": solution}))
        session.commit()
    path = f"{url}/v1/jobs/{job.id}/result"
    rows = []
    for label, encoding in (("first request", "gzip"), ("again, gzip", "gzip"), ("again, identity", "identity")):
        response, seconds = timed(
            lambda e=encoding: httpx.get(path, headers={**headers, "Accept-Encoding": e}, timeout=300)
        )  # type: ignore[misc]
        sent = int(response.headers.get("content-length") or len(response.content))
        rows.append((f"GET /result, {values} values, {label}", f"{seconds:.2f} s, {sent / 1e6:.1f} MB sent"))
    return rows


def measure_unauthenticated_body(url: str) -> list[tuple[str, str]]:
    body = b"{" + b"x" * (30 * 1024 * 1024)
    headers = {"content-type": "application/json", "Authorization": "Bearer slv_deadbeef_wrong"}
    response, seconds = timed(lambda: httpx.post(f"{url}/v1/jobs", content=body, headers=headers, timeout=120))
    return [("unauthenticated 30 MB body of invalid JSON", f"{response.status_code} in {seconds:.2f} s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finished-jobs", type=int, default=400_000)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--result-values", type=int, default=1_000_000)
    args = parser.parse_args()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        from app.cli import migrate_database
        from app.db import get_engine

        migrate_database()
        fill_finished_jobs(os.environ["SOLVENT_DATABASE_URL"], args.finished_jobs)
        url, server = serve()
        rows = [("finished jobs in the table", f"{args.finished_jobs}")]
        rows += measure_metrics(url)
        rows += measure_streams(url, args.streams)
        rows += measure_quota(url)
        rows += measure_large_result(url, args.result_values)
        try:
            rows += measure_unauthenticated_body(url)
        except httpx.HTTPError as exc:  # the server may answer 401 and close before the upload ends
            rows.append(("unauthenticated 30 MB body of invalid JSON", f"connection closed early: {exc!r}"))
        server.should_exit = True
        get_engine().dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(f"\nmachine: {platform.node()} ({os.cpu_count()} cores), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"command: python bench/api_security.py --finished-jobs {args.finished_jobs} --streams {args.streams}"
        f" --result-values {args.result_values}\n"
    )
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
