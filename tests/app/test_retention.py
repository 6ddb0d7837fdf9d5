"""Retention: the reaper deletes finished jobs past their tenant's TTL, with their events and results."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from app.db import Job, JobEvent, JobResult, Tenant, get_sessionmaker, utcnow
from app.retention import purge_expired_batch
from app.security import tenant_for_key
from tests.conftest import Api, wait_for

YEAR_S = 365 * 86400


def _set_ttl(api: Api, ttl_s: int) -> int:
    with get_sessionmaker()() as session:
        tenant_id = tenant_for_key(session, api.key)
        assert tenant_id is not None
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(job_ttl_s=ttl_s))
        session.commit()
    return tenant_id


def _finished_ago(job_ids: list[str], seconds: float) -> None:
    with get_sessionmaker()() as session:
        ids = [uuid.UUID(j) for j in job_ids]
        session.execute(update(Job).where(Job.id.in_(ids)).values(finished_at=utcnow() - timedelta(seconds=seconds)))
        session.commit()


def _rows(job_id: str) -> tuple[int, int, int]:
    """(jobs, events, results) rows of a job."""
    key = uuid.UUID(job_id)
    with get_sessionmaker()() as session:
        return (
            session.scalar(select(func.count()).select_from(Job).where(Job.id == key)) or 0,
            session.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.job_id == key)) or 0,
            session.scalar(select(func.count()).select_from(JobResult).where(JobResult.job_id == key)) or 0,
        )


def test_reaper_deletes_a_job_past_its_ttl_and_keeps_a_fresh_one(api: Api, worker: object) -> None:
    _set_ttl(api, 3600)
    old = api.submit("fake", {"steps": 2, "seconds": 0})["id"]
    fresh = api.submit("fake", {"steps": 2, "seconds": 0})["id"]
    assert api.wait(old)["status"] == "succeeded" and api.wait(fresh)["status"] == "succeeded"
    assert all(n > 0 for n in _rows(old))
    _finished_ago([old], 2 * 3600)
    _finished_ago([fresh], 600)

    wait_for(lambda: _rows(old) == (0, 0, 0), 20, what="the reaper to delete the expired job")
    assert api.request("GET", f"/v1/jobs/{old}").status_code == 404
    assert api.job(fresh)["status"] == "succeeded"
    assert api.request("GET", f"/v1/jobs/{fresh}/result").status_code == 200
    assert all(n > 0 for n in _rows(fresh))


def test_purge_works_in_bounded_batches_and_ttl_zero_keeps_forever(api: Api, worker: object) -> None:
    tenant_id = _set_ttl(api, 0)
    ids = [api.submit("fake", {"steps": 0, "seconds": 0})["id"] for _ in range(3)]
    for job_id in ids:
        api.wait(job_id)
    _finished_ago(ids, 10 * YEAR_S)
    with get_sessionmaker()() as session:  # other tests' jobs are far younger than the 5-year default
        assert purge_expired_batch(session, default_ttl_s=5 * YEAR_S, batch_size=2) == 0  # TTL 0: kept
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(job_ttl_s=None))
        assert purge_expired_batch(session, default_ttl_s=5 * YEAR_S, batch_size=2) == 2
        assert purge_expired_batch(session, default_ttl_s=5 * YEAR_S, batch_size=2) == 1
        session.commit()
    assert [_rows(j) for j in ids] == [(0, 0, 0)] * 3
