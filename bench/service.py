"""Service speed (issue 15): submissions per second, tiny-job latency and the embedded quick start, in one run.

    python bench/service.py [--seconds 10] [--clients 16] [--api-processes 2] [--tiny-jobs 50]

Against a fresh database on the local PostgreSQL and Redis, with the API run as compose runs it
(``uvicorn --workers 2``) and workers as local Celery processes, it measures:

1. after a 1 s flood that is not counted (first requests import modules and open pools),
   submissions accepted per second and their latency (p50/p95/p99) with ``--clients`` concurrent
   keep-alive clients (a tenant each, default quotas but the active-job cap, raised so a backlog of
   queued jobs is not refused) posting a tiny MILP, each with its own Idempotency-Key, no worker running;
2. the same while 2 workers (``--concurrency 2``, as compose runs one) solve the flood;
3. tiny-MILP submit → succeeded with jobs arriving back to back every 0.1 s (10/s), next to the same
   solve (parse, solve, check) in this process; the finish time is the worker's ``finished_at``, so no
   polling delay is counted;
4. the embedded quick start (``solvent serve``, SQLite store and broker): flugpl.mps submit → result as
   a client polling every 10 ms sees it.

The load generator is a small raw-asyncio HTTP/1.1 client (one process), so it takes little of the CPU
it shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "milp"  # the development MPS files, in the repository
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent
TINY_MILP: dict[str, Any] = {
    "format": "json",
    "sense": "maximize",
    "variables": [
        {"name": "x", "type": "integer", "lb": 0, "ub": 10, "obj": 5.0},
        {"name": "y", "type": "continuous", "lb": 0, "obj": 4.0},
        {"name": "z", "type": "binary", "obj": 3.0},
    ],
    "constraints": [
        {"name": "capacity", "terms": {"x": 6.0, "y": 4.0, "z": 5.0}, "ub": 24.0},
        {"name": "mix", "terms": {"x": 1.0, "y": 2.0}, "ub": 6.0},
    ],
}


CONNECT_SPACING_S = 0.02
WARM_UP_S = 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout_s: float = 120) -> None:
    """Wait for /health/live to answer 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# ---------------------------------------------------------------------------------------------
# A tiny HTTP/1.1 keep-alive client


class RawClient:
    """One keep-alive connection speaking just enough HTTP/1.1 for JSON requests with a Content-Length."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read its answer (reconnecting when the server closed the connection)."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.writer.close()
        return int(head[9:12]), data


def submission(key: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """Headers of a new submission, with a fresh Idempotency-Key."""
    return {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Idempotency-Key": secrets.token_hex(12),
    }, body


async def flood(port: int, keys: Sequence[str], seconds: float) -> tuple[int, list[float], dict[int, int]]:
    """One connection per key (a tenant each) posting the tiny MILP back to back for ``seconds``: accepted,
    latencies, statuses."""
    body = json.dumps({"kind": "milp", "solver": "highs", "instance": TINY_MILP}).encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def client(index: int, key: str) -> None:
        # Connections opened one by one: a burst of connects is accepted by whichever API process wakes
        # first (it accepts all that wait), so all clients could land on one process; spaced out, an idle
        # process takes the next one, as with clients that come and go.
        await asyncio.sleep(index * CONNECT_SPACING_S)
        connection = RawClient(port)
        while time.perf_counter() < deadline:
            headers, data = submission(key, body)
            start = time.perf_counter()
            status, _ = await connection.request("POST", "/v1/jobs", headers, data)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(client(i, key) for i, key in enumerate(keys)))
    return statuses.get(202, 0), latencies, statuses


async def paced_jobs(port: int, key: str, count: int, interval_s: float) -> list[tuple[str, float]]:
    """Submit ``count`` tiny MILPs every ``interval_s`` (each on its own connection); (job id, wall send time)."""
    body = json.dumps({"kind": "milp", "solver": "highs", "instance": TINY_MILP}).encode()
    start = time.perf_counter()

    async def one(i: int) -> tuple[str, float]:
        await asyncio.sleep(max(0.0, start + i * interval_s - time.perf_counter()))
        headers, data = submission(key, body)
        sent = time.time()
        status, answer = await RawClient(port).request("POST", "/v1/jobs", headers, data)
        assert status == 202, (status, answer)
        return str(json.loads(answer)["id"]), sent

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def direct_solve_s(instance: dict[str, Any]) -> float:
    """Seconds to parse, solve with HiGHS and check, all in this process."""
    from solvers.base import NeverCancel, NullProgress
    from solvers.registry import get_kind

    kind = get_kind("milp")
    start = time.perf_counter()
    model = kind.parse(instance)
    spec = kind.solver("highs")
    result = spec.load().solve(model, spec.options(time_limit_s=60), NullProgress(), NeverCancel())
    assert result.solution is not None
    kind.check(model, result.solution)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The PostgreSQL + Redis deployment


class Deployment:
    """A fresh database, one tenant and key per client, ``api_processes`` API processes behind one port and,
    on demand, workers."""

    def __init__(self, api_processes: int, clients: int) -> None:
        self.database = f"solvent_bench_{secrets.token_hex(3)}"
        self.port = free_port()
        self.redis_db = 6
        self.env = {
            **os.environ,
            "SOLVENT_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}",
            "SOLVENT_BROKER_URL": f"redis://127.0.0.1:6379/{self.redis_db}",
            "SOLVENT_QUEUE_NAME": f"bench-{self.database}",
            "SOLVENT_API_KEY_SECRET": secrets.token_hex(16),
            "SOLVENT_TENANT_MAX_ACTIVE_JOBS": "10000000",  # the flood measures the path, not the quota's 429
        }
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        subprocess.run([str(BIN / "alembic"), "upgrade", "head"], cwd=ROOT, env=self.env, check=True)
        self.keys = self._new_keys(clients)
        self.api = subprocess.Popen(
            [str(BIN / "uvicorn"), "app.main:create_app", "--factory", "--port", str(self.port),
             "--workers", str(api_processes), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.workers: subprocess.Popen[bytes] | None = None
        wait_ready(f"http://127.0.0.1:{self.port}")

    def _new_keys(self, count: int) -> list[str]:
        script = (
            "from app.db import get_sessionmaker\nfrom app.security import create_key\n"
            "with get_sessionmaker()() as s:\n"
            f"    print(*(create_key(s, f'bench-{{i}}').key for i in range({count})))\n"
            "    s.commit()"
        )
        created = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return created.stdout.split()

    def start_workers(self, concurrency: int) -> None:
        """One Celery worker with ``concurrency`` solve slots, as compose runs it; returns once it beats."""
        self.workers = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--concurrency", str(concurrency),
             "--loglevel", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.sql("SELECT count(*) FROM worker_heartbeats")[0][0]:
            time.sleep(0.5)

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query on the bench database (autocommit)."""
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.database}", autocommit=True) as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def drop_backlog(self) -> None:
        """Cancel the flood's queued jobs, drop their doorbells, and wait for the running ones to end."""
        self.sql("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE status = 'queued'")
        redis.Redis(db=self.redis_db).delete(self.env["SOLVENT_QUEUE_NAME"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.sql("SELECT count(*) FROM jobs WHERE status = 'running'")[0][0]:
            time.sleep(0.2)

    def finished(self, job_ids: Sequence[str], timeout_s: float = 120) -> dict[str, tuple[str, float]]:
        """Wait until the jobs end; each one's status and finished_at (Unix seconds)."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.sql(
                "SELECT id::text, status, extract(epoch FROM finished_at) FROM jobs WHERE id = ANY(%s::uuid[])",
                [list(job_ids)],
            )
            done = {job_id: (status, float(at)) for job_id, status, at in rows if at is not None}
            if len(done) == len(job_ids) or time.monotonic() > deadline:
                return done
            time.sleep(0.2)

    def close(self) -> None:
        """Stop the processes and drop the database."""
        for process in (self.api, self.workers):
            if process is not None:
                process.send_signal(signal.SIGTERM)
        for process in (self.api, self.workers):
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        redis.Redis(db=self.redis_db).delete(self.env["SOLVENT_QUEUE_NAME"])
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def embedded_flugpl(repeats: int) -> list[float]:
    """``solvent serve`` in a temporary directory: flugpl.mps submit → result (client polling every 10 ms)."""
    data_dir = Path(tempfile.mkdtemp(prefix="solvent-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}
    serve = subprocess.Popen(
        [str(BIN / "solvent"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert serve.stdout is not None
        key = ""
        for line in serve.stdout:
            if line.startswith("API key for tenant"):
                key = line.strip().rsplit(" ", 1)[-1]
                break
        wait_ready(url)
        headers = {"Authorization": f"Bearer {key}"}
        model = (DATA / "flugpl.mps").read_text()
        body = {"kind": "milp", "solver": "highs", "instance": {"format": "mps", "model": model}}
        times = []
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for i in range(repeats + 1):  # the first warms the worker up; not counted
                start = time.perf_counter()
                job = client.post("/v1/jobs", json=body).json()
                while client.get(f"/v1/jobs/{job['id']}/result").status_code != 200:
                    time.sleep(0.01)
                if i:
                    times.append(time.perf_counter() - start)
        return times
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def ms(value: float) -> str:
    """Seconds as milliseconds for the tables."""
    return f"{value * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each flood")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--api-processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="solve slots of the worker in the second flood")
    parser.add_argument("--tiny-jobs", type=int, default=50, help="tiny MILPs submitted at 10/s")
    parser.add_argument("--embedded-repeats", type=int, default=5)
    args = parser.parse_args()

    deployment = Deployment(args.api_processes, args.clients)
    floods: list[tuple[str, int, list[float], dict[int, int], float]] = []
    try:
        # Not counted: each API process's first requests import the kinds' modules and open its pools.
        asyncio.run(flood(deployment.port, deployment.keys, WARM_UP_S))
        for label in ("no workers", f"{args.workers} workers solving"):
            if label != "no workers":
                deployment.start_workers(args.workers)
            start = time.perf_counter()
            accepted, latencies, statuses = asyncio.run(flood(deployment.port, deployment.keys, args.seconds))
            floods.append((label, accepted, latencies, statuses, time.perf_counter() - start))
        deployment.drop_backlog()
        asyncio.run(paced_jobs(deployment.port, deployment.keys[0], 3, 0.1))  # warm-up, not counted
        time.sleep(2)
        sent = asyncio.run(paced_jobs(deployment.port, deployment.keys[0], args.tiny_jobs, 0.1))
        ends = deployment.finished([job_id for job_id, _ in sent])
    finally:
        deployment.close()
    tiny = [ends[job_id][1] - at for job_id, at in sent if job_id in ends and ends[job_id][0] == "succeeded"]
    direct = [direct_solve_s(TINY_MILP) for _ in range(args.tiny_jobs)]
    try:
        embedded, embedded_error = embedded_flugpl(args.embedded_repeats), ""
    except httpx.HTTPError as exc:  # reported, so the sections above are not lost
        embedded, embedded_error = [], f"{type(exc).__name__}: {exc}"

    print(f"machine: {platform.node()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.1f}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(f"command: python bench/service.py --seconds {args.seconds:g} --clients {args.clients} "
          f"--api-processes {args.api_processes} --workers {args.workers} --tiny-jobs {args.tiny_jobs} "
          f"--embedded-repeats {args.embedded_repeats}\n")  # fmt: skip
    print(f"Submissions, {args.clients} clients, {args.api_processes} API processes (PostgreSQL + Redis):\n")
    print("| workers | accepted/s | p50 ms | p95 ms | p99 ms | answers |")
    print("|---|---|---|---|---|---|")
    for label, accepted, latencies, statuses, elapsed in floods:
        answers = ", ".join(f"{n}×{code}" for code, n in sorted(statuses.items()))
        print(f"| {label} | {accepted / elapsed:.0f} | {ms(percentile(latencies, 0.5))} | "
              f"{ms(percentile(latencies, 0.95))} | {ms(percentile(latencies, 0.99))} | {answers} |")  # fmt: skip
    print(f"\nTiny MILP at 10/s ({len(tiny)} of {len(sent)} succeeded), submit → succeeded vs in process:\n")
    print("| path | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|")
    for label, values in (("service (submit → finished_at)", tiny), ("in process (parse+solve+check)", direct)):
        print(f"| {label} | {ms(percentile(values, 0.5))} | {ms(percentile(values, 0.95))} | "
              f"{ms(percentile(values, 0.99))} |")  # fmt: skip
    if tiny:
        print(f"| difference of medians | {ms(statistics.median(tiny) - statistics.median(direct))} | | |")
    print(f"\nEmbedded quick start (`solvent serve`), flugpl.mps submit → result, {len(embedded)} runs:")
    if embedded:
        print(f"median {ms(statistics.median(embedded))} ms, max {ms(max(embedded))} ms")
    else:
        print(f"not measured: {embedded_error}")


if __name__ == "__main__":
    main()
