"""Shared fixtures: a fresh PostgreSQL database, a private Redis queue, real Celery worker processes.

Nothing here is mocked: integration tests talk to the PostgreSQL and Redis on 127.0.0.1 (``make test``
starts them when they are down) and to worker processes started with the same command as production.
Each test uses its own tenant, so tests stay independent although workers share one database.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_ADMIN = os.environ.get("SOLVENT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN_ID = secrets.token_hex(4)
TEST_DB = f"solvent_test_{RUN_ID}"
DATABASE_URL = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{TEST_DB}"
BROKER_URL = os.environ.get("SOLVENT_TEST_REDIS", "redis://127.0.0.1:6379/3")

TEST_ENV = {
    "SOLVENT_DATABASE_URL": DATABASE_URL,
    "SOLVENT_BROKER_URL": BROKER_URL,
    "SOLVENT_QUEUE_NAME": f"solvent-test-{RUN_ID}",
    "SOLVENT_API_KEY_SECRET": "test-secret-" + RUN_ID,
    "SOLVENT_EXTRA_KINDS": "fake=tests.fake_kind",
    "SOLVENT_LEASE_S": "6",
    "SOLVENT_REAPER_INTERVAL_S": "2",
    "SOLVENT_RERING_AFTER_S": "10",
    "SOLVENT_WORKER_HEARTBEAT_S": "1",
    "SOLVENT_WORKER_FRESH_S": "4",
    "SOLVENT_KILL_GRACE_S": "3",
    "SOLVENT_JOB_MEMORY_LIMIT_MB": "1536",
    "SOLVENT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
    "SOLVENT_WEBHOOK_SWEEP_INTERVAL_S": "1",
    "SOLVENT_WEBHOOK_BACKOFF_BASE_S": "0.5",
    "SOLVENT_WEBHOOK_BACKOFF_MAX_S": "2",
}
os.environ.update(TEST_ENV)

#: A test that uses one of these (directly or through another fixture) is marked ``integration``.
INTEGRATION_FIXTURES = {"database", "worker", "server"}
#: Suites that start and break whole deployments are marked ``slow``.
SLOW_SUITES = {"chaos", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Apply the markers declared in pyproject.toml, so ``-m "not integration"`` runs the pure tests."""
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if item.path.relative_to(ROOT / "tests").parts[0] in SLOW_SUITES:
            item.add_marker(pytest.mark.slow)


def _create_database() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{TEST_DB}"')


def _drop_database() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A fresh database at the newest schema, dropped at the end."""
    _create_database()
    from app.cli import migrate_database

    migrate_database(DATABASE_URL)
    yield DATABASE_URL
    from app.db import get_engine

    get_engine().dispose()
    _drop_database()


def start_worker(
    extra_env: dict[str, str] | None = None, concurrency: int = 2, beat: bool = True, arguments: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """A real Celery worker process (its main process runs the reaper), started with production's command line."""
    command = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO"]
    command += ["--concurrency", str(concurrency), "-n", f"w{secrets.token_hex(3)}@%h", *arguments]
    if beat:
        command += ["-B", "--schedule", f"/tmp/solvent-beat-{RUN_ID}-{secrets.token_hex(3)}"]
    env = {**os.environ, **TEST_ENV, **(extra_env or {})}
    with open(f"/tmp/solvent-worker-{RUN_ID}.log", "ab") as log:  # the worker has its own copy of the file
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_process(process: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Warm shutdown, then kill the whole process group."""
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; its value, or an AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def live_worker_count() -> int:
    from app import store
    from app.db import get_sessionmaker

    with get_sessionmaker()() as session:
        return len(store.live_workers(session, 4))


def settle_jobs(timeout: float = 60) -> None:
    """Cancel every active job and wait until none runs, so the next module starts with an idle queue."""
    from sqlalchemy import func, select, update

    from app.db import Job, get_sessionmaker, utcnow

    with get_sessionmaker()() as session:
        session.execute(update(Job).where(Job.status == "queued").values(status="cancelled", finished_at=utcnow()))
        session.execute(update(Job).where(Job.status == "running").values(cancel_requested=True))
        session.commit()

    def idle() -> bool:
        with get_sessionmaker()() as session:
            return not session.scalar(select(func.count()).select_from(Job).where(Job.status == "running"))

    wait_for(idle, timeout, what="running jobs to stop")


@pytest.fixture(scope="module")
def worker(database: str) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process (with its reaper) and embedded beat (the webhook sweep) for one test module."""
    process = start_worker()
    wait_for(lambda: live_worker_count() > 0, 60, what="a live worker")
    yield process
    settle_jobs()
    stop_process(process)
    # generous: a loaded machine (CI runs everything on 2 cores) can take a while to stop a worker's pool
    wait_for(lambda: live_worker_count() == 0, 30, what="the worker heartbeat to go stale")


@pytest.fixture
def make_key(database: str) -> Callable[[str | None], str]:
    """Create an API key for a new (or named) tenant."""
    from app.db import get_sessionmaker
    from app.security import create_key

    def make(tenant: str | None = None) -> str:
        with get_sessionmaker()() as session:
            created = create_key(session, tenant or f"tenant-{uuid.uuid4().hex[:10]}")
            session.commit()
        return created.key

    return make


@pytest.fixture
def client(database: str) -> Iterator[Any]:
    """The real app in process (its doorbell goes to the real Redis)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: Any, make_key: Callable[[str | None], str]) -> Any:
    """A client authenticated as a fresh tenant."""
    return Api(client, make_key(None))


class Api:
    """Small helper around the test client for one tenant."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.headers = {"Authorization": f"Bearer {key}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def submit(self, kind: str, instance: dict[str, Any], **fields: Any) -> dict[str, Any]:
        response = self.request("POST", "/v1/jobs", json={"kind": kind, "instance": instance, **fields})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(
        self,
        job_id: str,
        timeout: float = 60,
        statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    ) -> dict[str, Any]:
        return dict(
            wait_for(lambda: (j := self.job(job_id))["status"] in statuses and j, timeout, what=f"job {job_id}")
        )


def mps_instance(name: str) -> dict[str, Any]:
    """An MPS file of the repository's examples/milp as a milp instance."""
    return {"format": "mps", "model": (EXAMPLES / "milp" / name).read_text()}


def readme_walkthrough(url: str, key: str, ready_timeout: float = 90) -> tuple[dict[str, Any], dict[str, Any]]:
    """The README's curl walk-through over real HTTP: wait until ready, submit flugpl, poll, fetch the result."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"}

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, ready_timeout, interval=1, what=f"{url} to be ready with a live worker")
    body = {"kind": "milp", "options": {"time_limit_s": 60}, "instance": mps_instance("flugpl.mps")}
    created = httpx.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=30)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    job = wait_for(finished, 120, interval=0.5, what="the flugpl job")
    result: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}/result", headers=headers, timeout=10).json()
    return job, result
