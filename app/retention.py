"""Retention: finished jobs older than their tenant's time-to-live are deleted with everything they own."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import Job, JobEvent, JobResult, Tenant, WebhookDelivery, utcnow

FINISHED = ("succeeded", "failed", "cancelled")


def expired_job_ids(session: Session, *, default_ttl_s: int, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` finished jobs past their tenant's TTL (the tenant's own, else the default; 0 keeps)."""
    now = utcnow()
    found: list[uuid.UUID] = []
    for tenant_id, own_ttl in session.execute(select(Tenant.id, Tenant.job_ttl_s)).all():
        ttl = default_ttl_s if own_ttl is None else own_ttl
        if ttl <= 0:
            continue
        query = select(Job.id).where(
            Job.tenant_id == tenant_id,
            Job.finished_at < now - timedelta(seconds=ttl),
            Job.status.in_(FINISHED),
        )
        found += session.scalars(query.limit(limit - len(found)))
        if len(found) >= limit:
            break
    return found


def delete_jobs(session: Session, job_ids: list[uuid.UUID]) -> None:
    """Delete these jobs with their events, results and webhook deliveries."""
    session.execute(delete(JobEvent).where(JobEvent.job_id.in_(job_ids)))
    session.execute(delete(JobResult).where(JobResult.job_id.in_(job_ids)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.job_id.in_(job_ids)))
    session.execute(delete(Job).where(Job.id.in_(job_ids)))


def purge_expired_batch(session: Session, *, default_ttl_s: int, batch_size: int) -> int:
    """Delete one bounded batch of expired jobs; the number deleted (the caller commits)."""
    job_ids = expired_job_ids(session, default_ttl_s=default_ttl_s, limit=batch_size)
    if job_ids:
        delete_jobs(session, job_ids)
    return len(job_ids)
