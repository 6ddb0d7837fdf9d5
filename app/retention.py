"""Retention: finished jobs older than their tenant's time-to-live are deleted with everything they own."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from app.db import FINISHED, Job, JobEvent, JobResult, Tenant, WebhookDelivery, utcnow


def expired_job_ids(session: Session, *, default_ttl_s: int, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` finished jobs past their tenant's TTL (the tenant's own, else the default; 0 keeps).

    One query covers every tenant on the default TTL, plus one per tenant with a TTL of its own.
    """
    now = utcnow()
    on_default = Job.tenant_id.in_(select(Tenant.id).where(Tenant.job_ttl_s.is_(None)))
    groups: list[tuple[int, ColumnElement[bool]]] = [(default_ttl_s, on_default)]
    own = session.execute(select(Tenant.id, Tenant.job_ttl_s).where(Tenant.job_ttl_s.is_not(None))).all()
    groups += [(ttl or 0, Job.tenant_id == tenant_id) for tenant_id, ttl in own]
    found: list[uuid.UUID] = []
    for ttl, tenants in groups:
        if ttl <= 0:
            continue
        cutoff = now - timedelta(seconds=ttl)
        query = select(Job.id).where(tenants, Job.finished_at < cutoff, Job.status.in_(FINISHED))
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
