"""Worker processes: the reaper runs beside a busy pool, recycled pool processes use their own connections.

Each test starts its own worker (and no other worker runs meanwhile), with the settings it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app import store
from app.db import Job, get_sessionmaker, utcnow
from tests.conftest import Api, live_worker_count, settle_jobs, start_worker, stop_process, wait_for


@pytest.fixture
def own_worker(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A worker with the settings the test names (``@pytest.mark.parametrize`` indirect)."""
    env, concurrency, arguments = request.param
    process = start_worker(extra_env=env, concurrency=concurrency, arguments=arguments)
    wait_for(lambda: live_worker_count() > 0, 60, what="a live worker")
    yield process
    settle_jobs(40)
    stop_process(process)
    wait_for(lambda: live_worker_count() == 0, 15, what="the worker heartbeat to go stale")


@pytest.mark.parametrize("own_worker", [({}, 1, [])], indirect=True)
def test_the_reaper_runs_while_every_pool_process_is_busy(api: Api, own_worker: Any) -> None:
    busy = api.submit("fake", {"steps": 100, "seconds": 0.2})  # 20 s on the only pool process
    wait_for(lambda: api.job(busy["id"])["status"] == "running", 30, what="the long job to run")
    with get_sessionmaker()() as session:  # a job whose worker vanished: its lease ran out
        tenant_id = store.get_or_create_tenant(session, f"reaper-{uuid.uuid4().hex[:8]}").id
        new = store.NewJob("fake", "count", '{"steps": 1}', {}, 0, {}, None, None)
        lost = store.create_job(session, tenant_id, new).id
        expired = utcnow() - timedelta(seconds=1)
        session.execute(
            update(Job).where(Job.id == lost).values(status="running", attempts=1, lease_expires_at=expired)
        )
        session.commit()

    def requeued() -> bool:
        with get_sessionmaker()() as session:
            job = session.get(Job, lost)
            return job is not None and job.status != "running"

    wait_for(requeued, 12, what="the reaper to requeue the lost job")
    assert api.job(busy["id"])["status"] == "running"  # it was reaped while the pool was busy


# The main process's heartbeat uses its database connection 100 times a second, so a pool process
# talking over the same socket would interleave with it at once.
@pytest.mark.parametrize(
    "own_worker", [({"SOLVENT_WORKER_HEARTBEAT_S": "0.01"}, 1, ["--max-tasks-per-child", "1"])], indirect=True
)
def test_recycled_pool_processes_run_every_job(api: Api, own_worker: Any) -> None:
    pool_processes = set()
    for _ in range(3):
        job = api.submit("fake", {"steps": 3, "seconds": 0.1})
        done = api.wait(job["id"], timeout=60)
        assert done["status"] == "succeeded" and done["attempts"] == 1, done
        with get_sessionmaker()() as session:
            pool_processes.add(session.get(Job, uuid.UUID(job["id"])).worker)
    assert len(pool_processes) == 3  # each job ran in a fresh pool process
