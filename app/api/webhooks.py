"""Webhook endpoints: a job's delivery attempts and the tenant's signing secret."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from app import store, webhooks
from app.deps import SessionDep, TenantDep
from app.errors import ProblemError

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.get("/jobs/{job_id}/webhooks", summary="List a job's webhook deliveries and their attempts")
def list_deliveries(job_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> dict[str, Any]:
    """Every delivery of the job (state pending, delivered or failed) with each attempt's answer."""
    try:
        job = store.get_job(session, tenant_id, job_id)
    except store.JobNotFound as exc:
        raise ProblemError(404, f"No job {job_id}.") from exc
    return {"items": webhooks.deliveries_of(session, job.id)}


@router.get("/webhooks/secret", summary="Get the secret that signs this tenant's webhooks")
def get_secret(session: SessionDep, tenant_id: TenantDep) -> dict[str, str]:
    """The HMAC-SHA256 key of the ``Solvent-Webhook-Signature`` header (created on first use)."""
    secret = webhooks.tenant_secret(session, tenant_id)
    session.commit()
    return {"secret": secret}


@router.post("/webhooks/secret/rotate", summary="Replace this tenant's webhook signing secret")
def rotate_secret(session: SessionDep, tenant_id: TenantDep) -> dict[str, str]:
    """A new secret; deliveries from now on are signed with it."""
    secret = webhooks.tenant_secret(session, tenant_id, rotate=True)
    session.commit()
    return {"secret": secret}
