"""The job state machine: conditional claim, fenced finish, leases and the reaper (real PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from app import store
from app.db import Job, JobStatus, get_sessionmaker, utcnow

#: The made-up workers these tests claim jobs for (no process runs them).
FAKE_WORKERS = ("w", "w1", "w2", "w3")


def _cancel_queued(session: Session) -> None:
    session.execute(update(Job).where(Job.status == "queued").values(status="cancelled", finished_at=utcnow()))
    session.commit()


@pytest.fixture(autouse=True)
def _no_queued_jobs() -> Iterator[None]:
    """No queued job of other tests around: a claim may take any tenant's queued job. Afterwards, jobs left
    running by a made-up worker end too (else the next module's worker waits out their 30 s leases)."""
    with get_sessionmaker()() as session:
        _cancel_queued(session)
    yield
    with get_sessionmaker()() as session:
        _cancel_queued(session)
        session.execute(
            update(Job)
            .where(Job.status == "running", Job.worker.in_(FAKE_WORKERS))
            .values(status="cancelled", finished_at=utcnow(), lease_expires_at=None)
        )
        session.commit()


def _expire_lease(session: Session, job: Job) -> None:
    session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))


def _new_job(session: Session, tenant: str, priority: int = 0) -> Job:
    tenant_id = store.get_or_create_tenant(session, tenant).id
    new = store.NewJob("fake", "count", json.dumps({"steps": 1}), {"time_limit_s": 5}, priority, {}, None, None)
    return store.create_job(session, tenant_id, new)


def test_claim_is_exclusive_and_finish_is_fenced_by_attempt() -> None:
    with get_sessionmaker()() as session:
        job = _new_job(session, "store-fence")
        session.commit()
        first = store.claim_job(session, job.id, "w1", lease_s=30)
        session.commit()
        assert first is not None and first.attempt == 1
        assert store.claim_job(session, job.id, "w2", lease_s=30) is None  # nothing queued any more
        # The lease runs out and the reaper hands the job to a second attempt.
        session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        report = store.reap(session, max_attempts=3, rering_after_s=60)
        session.commit()
        assert report.requeued == [job.id]
        second = store.claim_job(session, job.id, "w2", lease_s=30)
        session.commit()
        assert second is not None and second.attempt == 2
        # The first attempt comes back late: none of its writes land.
        assert store.renew_lease(session, job.id, 1, 30) == (False, False)
        assert not store.set_progress(session, job.id, 1, {"objective": 1})
        assert not store.finish_job(session, job.id, 1, JobStatus.SUCCEEDED, result={"objective": 1}, error=None)
        assert store.finish_job(session, job.id, 2, JobStatus.SUCCEEDED, result={"objective": 2}, error=None)
        session.commit()
        result = store.get_result(session, job.id)
        assert result is not None and result.attempt == 2 and result.data == {"objective": 2}
        assert not store.finish_job(session, job.id, 2, JobStatus.FAILED, result=None, error={"code": "x"})


def test_reaper_fails_a_poison_job_after_max_attempts() -> None:
    with get_sessionmaker()() as session:
        job = _new_job(session, "store-poison")
        session.commit()
        for _ in range(2):
            assert store.claim_job(session, job.id, "w", lease_s=30) is not None
            session.execute(
                update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )
            store.reap(session, max_attempts=2, rering_after_s=60)
            session.commit()
        session.refresh(job)
        assert job.status == "failed" and job.error == {
            "code": "worker_lost",
            "message": "the worker running this job was lost 2 times; giving up",
        }


def test_claim_takes_the_highest_priority_of_the_doorbells_group() -> None:
    with get_sessionmaker()() as session:
        low = _new_job(session, "store-priority", priority=-1)
        high = _new_job(session, "store-priority", priority=7)
        session.commit()
        claim = store.claim_job(session, low.id, "w", lease_s=30)
        session.commit()
        assert claim is not None and claim.job_id == high.id
        again = store.claim_job(session, high.id, "w", lease_s=30)
        session.commit()
        assert again is not None and again.job_id == low.id


def test_released_job_is_queued_again_until_attempts_run_out() -> None:
    with get_sessionmaker()() as session:
        job = _new_job(session, "store-release")
        session.commit()
        claim = store.claim_job(session, job.id, "w", lease_s=30)
        assert claim is not None
        assert store.release_job(session, job.id, 1, max_attempts=2, reason="killed") == "queued"
        claim = store.claim_job(session, job.id, "w", lease_s=30)
        assert claim is not None and claim.attempt == 2
        assert store.release_job(session, job.id, 2, max_attempts=2, reason="killed") == "failed"
        session.commit()
        session.refresh(job)
        assert job.error is not None and job.error["code"] == "solver_error"


def test_claim_shares_workers_between_tenants() -> None:
    with get_sessionmaker()() as session:
        backlog = [_new_job(session, "store-fair-busy") for _ in range(5)]
        latecomer = _new_job(session, "store-fair-late")
        session.commit()
        first = store.claim_job(session, backlog[0].id, "w1", lease_s=30)
        # The next doorbell is the busy tenant's own, but the other tenant has nothing running yet.
        second = store.claim_job(session, backlog[1].id, "w2", lease_s=30)
        third = store.claim_job(session, backlog[2].id, "w3", lease_s=30)
        session.commit()
        assert first is not None and first.job_id == backlog[0].id
        assert second is not None and second.job_id == latecomer.id
        assert third is not None and third.job_id == backlog[1].id


def test_cancel_of_a_running_job_survives_the_loss_of_its_worker() -> None:
    with get_sessionmaker()() as session:
        job = _new_job(session, "store-cancel-lost")
        session.commit()
        assert store.claim_job(session, job.id, "w", lease_s=30) is not None
        session.commit()
        store.request_cancel(session, job)
        _expire_lease(session, job)  # the worker dies before it reads the cancel
        report = store.reap(session, max_attempts=3, rering_after_s=60)
        session.commit()
        session.refresh(job)
        assert job.status == "cancelled" and job.attempts == 1
        assert report.cancelled == [job.id] and report.requeued == []


def test_reaper_rings_again_only_as_many_jobs_as_doorbells_are_missing() -> None:
    with get_sessionmaker()() as session:
        jobs = [_new_job(session, "store-rering") for _ in range(3)]
        long_ago = utcnow() - timedelta(minutes=10)
        session.execute(
            update(Job).where(Job.id.in_([j.id for j in jobs])).values(created_at=long_ago, rung_at=long_ago)
        )
        session.commit()
        # All three doorbells still wait in the broker: nothing to ring.
        assert store.reap(session, max_attempts=3, rering_after_s=60, waiting_doorbells=3).to_ring == []
        # One was lost: ring one job again, not all three.
        to_ring = store.reap(session, max_attempts=3, rering_after_s=60, waiting_doorbells=2).to_ring
        assert len(to_ring) == 1 and to_ring[0] in {j.id for j in jobs}
        # The broker cannot tell: every stale doorbell rings again.
        assert len(store.reap(session, max_attempts=3, rering_after_s=60).to_ring) == 3
