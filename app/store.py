"""The job store: tenant-scoped queries and the one set of job state transitions.

queued → running → succeeded | failed | cancelled (and running → queued when a lease expires).
Every transition is a conditional UPDATE, so two processes can never both move the same job; the
worker's writes are additionally fenced by the attempt number it claimed. Store functions only
flush; the caller (a request or a task) owns the transaction.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app import rollup, webhooks
from app.db import (
    ACTIVE,
    FINISHED,
    Job,
    JobEvent,
    JobRendering,
    JobResult,
    JobStatus,
    Tenant,
    WorkerHeartbeat,
    utcnow,
)


class JobNotFound(Exception):
    """No job with that id for this tenant."""


# ---------------------------------------------------------------------------------------------
# Tenant-scoped reads (every {job_id} lookup goes through tenant_jobs)


def tenant_jobs(tenant_id: int) -> Select[Any]:
    """The one place that scopes job queries to a tenant."""
    return select(Job).where(Job.tenant_id == tenant_id)


def get_job(session: Session, tenant_id: int, job_id: uuid.UUID) -> Job:
    """The tenant's job, or JobNotFound (also for another tenant's job)."""
    job: Job | None = session.scalars(tenant_jobs(tenant_id).where(Job.id == job_id)).first()
    if job is None:
        raise JobNotFound(str(job_id))
    return job


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of the cursor encoding; ValueError when malformed."""
    padded = cursor + "=" * (-len(cursor) % 4)
    created, _, job_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
    return datetime.fromisoformat(created), uuid.UUID(job_id)


def list_jobs(
    session: Session,
    tenant_id: int,
    *,
    kind: str | None,
    status: str | None,
    limit: int,
    cursor: tuple[datetime, uuid.UUID] | None,
    solver: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[Job], str | None]:
    """A page of the tenant's jobs, newest first, and the cursor of the next page."""
    query = tenant_jobs(tenant_id)
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        query = query.where(Job.status == status)
    if solver:
        query = query.where(Job.solver == solver)
    if created_after:
        query = query.where(Job.created_at >= created_after)
    if created_before:
        query = query.where(Job.created_at < created_before)
    if cursor:
        created, job_id = cursor
        query = query.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    rows = list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)))
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def get_result(session: Session, job_id: uuid.UUID) -> JobResult | None:
    """The stored result of a job (the caller has already scoped the job to its tenant)."""
    return session.get(JobResult, job_id)


def get_rendering(session: Session, job_id: uuid.UUID, name: str) -> bytes | None:
    """A finished job's stored rendering (gzip bytes), if it was built already."""
    rendering = session.get(JobRendering, (job_id, name))
    return rendering.gzipped if rendering is not None else None


def add_rendering(session: Session, job_id: uuid.UUID, name: str, gzipped: bytes) -> None:
    """Store a finished job's rendering (a concurrent first request may store the same one: IntegrityError)."""
    session.add(JobRendering(job_id=job_id, name=name, gzipped=gzipped, created_at=utcnow()))
    session.flush()


def list_events(session: Session, job_id: uuid.UUID, after: int, limit: int = 1000) -> list[JobEvent]:
    """A job's events with seq > after, in order."""
    query = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after)
    return list(session.scalars(query.order_by(JobEvent.seq).limit(limit)))


def lock_tenant(session: Session, tenant_id: int) -> None:
    """Serialize the tenant's submissions until this transaction ends, so check-then-insert of the quota is atomic.

    A no-op UPDATE of the tenant row: a row lock on PostgreSQL, the database write lock on SQLite.
    """
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=Tenant.name))


def count_active_jobs(session: Session, tenant_id: int, at_most: int | None = None) -> int:
    """Queued plus running jobs of a tenant (for the concurrent-job quota), counted up to ``at_most``."""
    active = select(Job.id).where(Job.tenant_id == tenant_id, Job.status.in_(ACTIVE)).limit(at_most).subquery()
    return int(session.scalar(select(func.count()).select_from(active)) or 0)


# ---------------------------------------------------------------------------------------------
# Transitions


@dataclass
class NewJob:
    """What a client submits, already validated."""

    kind: str
    solver: str
    instance_json: str
    options: dict[str, Any]
    priority: int
    metadata: dict[str, Any]
    idempotency_key: str | None
    request_hash: str | None
    webhook_url: str | None = None
    instance_summary: dict[str, Any] | None = None
    warnings: list[str] | None = None


def find_by_idempotency_key(session: Session, tenant_id: int, key: str) -> Job | None:
    """The tenant's job created with this Idempotency-Key, if any."""
    return session.scalars(tenant_jobs(tenant_id).where(Job.idempotency_key == key)).first()


def create_job(session: Session, tenant_id: int, new: NewJob) -> Job:
    """Insert a queued job and its first status event (the caller commits, then rings the doorbell).

    The job is written as rung (the caller rings right after the commit, saving a second transaction);
    when the ring fails the caller calls ``mark_unrung``, and a job whose ring was lost with its API
    process is rung again by the reaper after ``rering_after_s``.
    """
    now = utcnow()
    job = Job(
        tenant_id=tenant_id,
        kind=new.kind,
        solver=new.solver,
        status=JobStatus.QUEUED,
        priority=new.priority,
        options=new.options,
        client_metadata=new.metadata,
        instance=new.instance_json,
        attempts=0,
        idempotency_key=new.idempotency_key,
        request_hash=new.request_hash,
        webhook_url=new.webhook_url,
        instance_summary=new.instance_summary,
        warnings=new.warnings or None,
        created_at=now,
        rung_at=now,
    )
    session.add(job)
    session.flush()
    add_event(session, job.id, "status", {"status": JobStatus.QUEUED})
    return job


def mark_rung(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
    """Record that the doorbell rang for these jobs."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(rung_at=utcnow()))


def mark_unrung(session: Session, job_id: uuid.UUID) -> None:
    """Record that a new job's doorbell could not be rung, so the reaper rings it."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED).values(rung_at=None))


def add_event(session: Session, job_id: uuid.UUID, type_: str, data: dict[str, Any]) -> None:
    """Append an event to a job's log; a terminal status event also queues the job's webhook and adds the
    job to the metrics roll-up."""
    session.add(JobEvent(job_id=job_id, type=type_, data=data, at=utcnow()))
    if type_ == "status" and data.get("status") in FINISHED:
        webhooks.enqueue_job_finished(session, job_id)
        rollup.record_finished(session, job_id)


@dataclass
class Claim:
    """A job a worker now owns, fenced by ``attempt``."""

    job_id: uuid.UUID
    attempt: int
    kind: str
    solver: str
    options: dict[str, Any]
    instance_json: str


def claim_job(session: Session, hint_job_id: uuid.UUID, worker: str, lease_s: float) -> Claim | None:
    """Claim the next queued job, sharing workers fairly between tenants; None when nothing is queued.

    Doorbells are interchangeable: each runs at most one job, and each job needs one doorbell, but a
    doorbell (``hint_job_id`` names the job that rang it) runs whichever job is due. Due is a job of the
    tenant with the fewest running jobs (then the one waiting longest), and within that tenant the
    highest priority, then the oldest; so one tenant's backlog cannot hold every worker for hours.
    """
    del hint_job_id  # kept for the logs of the caller; any queued job may answer any doorbell
    queued = select(Job.id).where(Job.status == JobStatus.QUEUED)
    for _ in range(50):
        job_id = _lock_due_job(session)
        if job_id is None:
            # Rows locked by a short transaction (e.g. the API marking the doorbell rung) are skipped
            # above; only give up once nothing is queued at all.
            if session.scalar(queued.limit(1)) is None:
                return None
            time.sleep(0.05)
            continue
        now = utcnow()
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                attempts=Job.attempts + 1,
                started_at=now,
                lease_expires_at=now + timedelta(seconds=lease_s),
                worker=worker,
            )
            .returning(Job.attempts, Job.kind, Job.solver, Job.options)
        ).first()
        if claimed is None:
            continue
        instance_json = session.scalar(select(Job.instance).where(Job.id == job_id)) or "{}"
        add_event(
            session, job_id, "status", {"status": JobStatus.RUNNING, "attempt": claimed.attempts, "worker": worker}
        )
        return Claim(job_id, claimed.attempts, claimed.kind, claimed.solver, claimed.options, instance_json)
    return None


def _lock_due_job(session: Session, tenants_tried: int = 20) -> uuid.UUID | None:
    """The due queued job, locked (skipping rows locked by others) on PostgreSQL; None if none is free."""
    running = (
        select(Job.tenant_id, func.count().label("running"))
        .where(Job.status == JobStatus.RUNNING)
        .group_by(Job.tenant_id)
        .subquery()
    )
    waiting = (
        select(Job.tenant_id, func.min(Job.created_at).label("since"))
        .where(Job.status == JobStatus.QUEUED)
        .group_by(Job.tenant_id)
        .subquery()
    )
    tenants = (
        select(waiting.c.tenant_id)
        .outerjoin(running, running.c.tenant_id == waiting.c.tenant_id)
        .order_by(func.coalesce(running.c.running, 0), waiting.c.since, waiting.c.tenant_id)
        .limit(tenants_tried)
    )
    lock = session.get_bind().dialect.name == "postgresql"
    for tenant_id in session.scalars(tenants).all():
        candidate = (
            select(Job.id)
            .where(Job.tenant_id == tenant_id, Job.status == JobStatus.QUEUED)
            .order_by(Job.priority.desc(), Job.created_at, Job.id)
            .limit(1)
        )
        job_id: uuid.UUID | None = session.scalar(candidate.with_for_update(skip_locked=True) if lock else candidate)
        if job_id is not None:
            return job_id
    return None


def renew_lease(session: Session, job_id: uuid.UUID, attempt: int, lease_s: float) -> tuple[bool, bool]:
    """Extend the lease of a running attempt; returns (still ours, cancel requested)."""
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        .returning(Job.cancel_requested)
    ).first()
    if row is None:
        return False, False
    return True, bool(row.cancel_requested)


def set_progress(session: Session, job_id: uuid.UUID, attempt: int, progress: dict[str, Any]) -> bool:
    """Store the latest progress snapshot of a running attempt; False if the attempt is no longer ours."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(progress=progress)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_job(
    session: Session,
    job_id: uuid.UUID,
    attempt: int,
    status: JobStatus,
    *,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
) -> bool:
    """Move a running attempt to its final state and store its result; False if it is no longer ours."""
    assert status in FINISHED
    moved = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(status=status, finished_at=utcnow(), lease_expires_at=None, error=error)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    if result is not None:
        session.add(JobResult(job_id=job_id, attempt=attempt, data=result))
    event: dict[str, Any] = {"status": status}
    if error:
        event["error"] = error
    add_event(session, job_id, "status", event)
    return True


def release_job(
    session: Session,
    job_id: uuid.UUID,
    attempt: int,
    *,
    max_attempts: int,
    reason: str,
    give_up: dict[str, str] | None = None,
) -> JobStatus | None:
    """Give a running attempt back: queued again while attempts remain, else failed with the error ``give_up``
    (by default ``solver_error`` naming ``reason``).

    A job whose cancel was requested ends ``cancelled`` instead of running again. ``reason`` goes in the
    status event. Returns the new status, or None if the attempt is no longer ours.
    """
    cancel_requested = session.scalar(select(Job.cancel_requested).where(Job.id == job_id))
    status: JobStatus
    if cancel_requested:
        status = JobStatus.CANCELLED
        values: dict[str, Any] = {"finished_at": utcnow(), "lease_expires_at": None}
        event: dict[str, Any] = {"reason": reason}
    elif attempt < max_attempts:
        status = JobStatus.QUEUED
        values = {"lease_expires_at": None, "worker": None, "rung_at": None}
        event = {"reason": reason}
    else:
        error = give_up or {
            "code": "solver_error",
            "message": f"{reason} (attempt {attempt} of {max_attempts}); giving up",
        }
        status = JobStatus.FAILED
        values = {"finished_at": utcnow(), "lease_expires_at": None, "error": error}
        event = {"error": error}
    moved = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.RUNNING)
        .values(status=status, **values)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return None
    add_event(session, job_id, "status", {"status": status, **event})
    return status


def request_cancel(session: Session, job: Job) -> Job:
    """Cancel a job: a queued one ends now and never starts; a running one is told to stop."""
    if job.status in FINISHED:
        raise ValueError(f"job is already {job.status}")
    if job.status == JobStatus.QUEUED:
        moved = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.QUEUED)
            .values(status=JobStatus.CANCELLED, finished_at=utcnow(), cancel_requested=True)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            add_event(session, job.id, "status", {"status": JobStatus.CANCELLED})
            session.refresh(job)
            return job
    session.execute(update(Job).where(Job.id == job.id, Job.status == JobStatus.RUNNING).values(cancel_requested=True))
    add_event(session, job.id, "log", {"message": "cancel requested"})
    session.refresh(job)
    return job


def delete_job(session: Session, job: Job) -> None:
    """Remove a job with its result and events (a running attempt sees its lease vanish and stops)."""
    session.execute(delete(JobEvent).where(JobEvent.job_id == job.id))
    session.execute(delete(JobResult).where(JobResult.job_id == job.id))
    session.execute(delete(JobRendering).where(JobRendering.job_id == job.id))
    session.execute(delete(Job).where(Job.id == job.id))


# ---------------------------------------------------------------------------------------------
# Reaper


@dataclass
class ReapReport:
    """What one reaper pass did: jobs requeued, failed and cancelled, and queued jobs to ring again."""

    requeued: list[uuid.UUID]
    failed: list[uuid.UUID]
    to_ring: list[uuid.UUID]
    cancelled: list[uuid.UUID] = field(default_factory=list)


REAPER_LOCK = 0x50_4C_56_52  # any constant shared by every worker: one reaper pass at a time


def lock_reaper(session: Session) -> bool:
    """Take the reaper's lock for this transaction (PostgreSQL); False if another pass holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one embedded worker
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(REAPER_LOCK))))


def reap(
    session: Session, *, max_attempts: int, rering_after_s: float, waiting_doorbells: int | None = None
) -> ReapReport:
    """Settle running jobs whose lease expired, and list queued jobs whose doorbell was lost.

    An expired lease means the worker was lost: the attempt is released (``release_job``), so the job is
    queued again, or ``failed``/``worker_lost`` after ``max_attempts``, or ``cancelled`` when a cancel
    was requested. Queued jobs are rung again only as far as doorbells are missing: ``waiting_doorbells``
    (the messages still in the broker, when known) cover as many queued jobs; of the rest, those never
    rung or rung more than ``rering_after_s`` ago are listed, oldest first.
    """
    now = utcnow()
    expired = select(Job.id, Job.attempts).where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
    report = ReapReport([], [], [])
    settled = {
        JobStatus.QUEUED: report.requeued,
        JobStatus.FAILED: report.failed,
        JobStatus.CANCELLED: report.cancelled,
    }
    for job_id, attempts in session.execute(expired).all():
        lost = {"code": "worker_lost", "message": f"the worker running this job was lost {attempts} times; giving up"}
        status = release_job(session, job_id, attempts, max_attempts=max_attempts, reason="lease expired", give_up=lost)
        if status is not None:
            settled[status].append(job_id)
    limit = 1000
    if waiting_doorbells is not None:
        # The requeued jobs are rung by this pass; the waiting doorbells will each claim one queued job.
        queued = session.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)) or 0
        limit = min(limit, max(0, queued - waiting_doorbells - len(report.requeued)))
    if limit:
        stale = now - timedelta(seconds=rering_after_s)
        silent = select(Job.id).where(
            Job.status == JobStatus.QUEUED,
            or_(Job.rung_at.is_(None), Job.rung_at < stale),
            Job.created_at < now - timedelta(seconds=5),
            Job.id.not_in(report.requeued),
        )
        report.to_ring = list(session.scalars(silent.order_by(Job.created_at, Job.id).limit(limit)))
    return report


# ---------------------------------------------------------------------------------------------
# Tenants and workers


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    """The tenant called ``name``, created if new."""
    tenant = session.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
    return tenant


def beat_worker(session: Session, hostname: str) -> None:
    """Record that a worker is alive."""
    row = session.get(WorkerHeartbeat, hostname)
    if row is None:
        session.add(WorkerHeartbeat(hostname=hostname, last_seen=utcnow()))
    else:
        row.last_seen = utcnow()


def live_workers(session: Session, fresh_s: float) -> list[str]:
    """Workers seen within the last ``fresh_s`` seconds."""
    since = utcnow() - timedelta(seconds=fresh_s)
    return list(session.scalars(select(WorkerHeartbeat.hostname).where(WorkerHeartbeat.last_seen >= since)))
