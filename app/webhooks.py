"""Webhooks: a signed POST about every finished job, stored as a delivery and retried by a sweep.

A delivery row is written in the same transaction that finishes the job (an outbox), so no message is
lost to a crash; the workers' sweep (workers/webhooks.py) posts due deliveries and records each
attempt here. URLs are checked against server-side request forgery at submission and again, on the
resolved address, before every attempt. Receivers verify the signature as docs/webhooks.md shows.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import Job, JobResult, Tenant, WebhookAttempt, WebhookDelivery, utcnow

ID_HEADER = "Solvent-Webhook-Id"
TIMESTAMP_HEADER = "Solvent-Webhook-Timestamp"
SIGNATURE_HEADER = "Solvent-Webhook-Signature"
EVENT = "job.finished"
SECRET_PREFIX = "whsec_"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeWebhookUrl(ValueError):
    """The URL is not an acceptable webhook target; the message says why."""


# ---------------------------------------------------------------------------------------------
# Server-side request forgery guard


def parse_networks(setting: str) -> list[IPNetwork]:
    """The operator's comma-separated allow list of networks (``SOLVENT_WEBHOOK_ALLOW_NETWORKS``)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()]


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a webhook may not reach this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allowed):
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        return "not a public unicast address"
    return None


def check_url(url: str, allowed: Sequence[IPNetwork]) -> tuple[SplitResult, list[IPAddress]]:
    """The URL's parts and every address its host resolves to, or UnsafeWebhookUrl.

    Every resolved address must be acceptable, so a name that resolves to one public and one private
    address is refused too.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsafeWebhookUrl("the URL is malformed") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("the scheme must be http or https")
    if not parts.hostname:
        raise UnsafeWebhookUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeWebhookUrl("the port is invalid") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:  # gaierror, or a name IDNA cannot encode
        raise UnsafeWebhookUrl(f"the host {parts.hostname!r} does not resolve") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    for address in addresses:
        reason = address_refusal(address, allowed)
        if reason:
            raise UnsafeWebhookUrl(
                f"the host {parts.hostname!r} resolves to {address}, {reason}; the operator can allow it with "
                "SOLVENT_WEBHOOK_ALLOW_NETWORKS"
            )
    return parts, addresses


# ---------------------------------------------------------------------------------------------
# Signing


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def tenant_secret(session: Session, tenant_id: int, *, rotate: bool = False) -> str:
    """The tenant's signing secret, created on first use (or replaced when rotating)."""
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    if tenant.webhook_secret is None or rotate:
        tenant.webhook_secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        session.flush()
    return tenant.webhook_secret


# ---------------------------------------------------------------------------------------------
# The outbox


def job_summary(job: Job, result: JobResult | None) -> dict[str, Any]:
    """What a webhook says about a finished job: the job object and the headline of its result."""
    base = f"/v1/jobs/{job.id}"
    headline = None
    if result is not None:
        data = result.data
        headline = {key: data.get(key) for key in ("status", "termination", "objective", "bound", "gap")}
        headline["feasible"] = (data.get("verification") or {}).get("feasible")
    return {
        "id": str(job.id),
        "kind": job.kind,
        "solver": job.solver,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "attempts": job.attempts,
        "priority": job.priority,
        "metadata": job.client_metadata,
        "error": job.error,
        "result": headline,
        "links": {"self": base, "result": f"{base}/result", "events": f"{base}/events"},
    }


def enqueue_job_finished(session: Session, job_id: uuid.UUID) -> None:
    """Queue the webhook of a job that just reached a terminal status (same transaction), if it has one."""
    job = session.scalars(select(Job).where(Job.id == job_id).execution_options(populate_existing=True)).first()
    if job is None:
        return
    url = job.webhook_url or session.scalar(select(Tenant.webhook_url).where(Tenant.id == job.tenant_id))
    if not url:
        return
    tenant_secret(session, job.tenant_id)
    now = utcnow()
    delivery_id = uuid.uuid4()
    payload = {
        "id": str(delivery_id),
        "type": EVENT,
        "created_at": now.isoformat(),
        "job": job_summary(job, session.get(JobResult, job_id)),
    }
    session.add(
        WebhookDelivery(
            id=delivery_id,
            job_id=job_id,
            url=url,
            event=EVENT,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


@dataclass
class DueDelivery:
    """A delivery claimed by a sweep, with what it needs to send it."""

    id: uuid.UUID
    url: str
    payload: dict[str, Any]
    secret: str


def claim_due(session: Session, *, limit: int, lease_s: float) -> list[DueDelivery]:
    """Claim due pending deliveries by pushing their next attempt ``lease_s`` ahead (another sweep skips them)."""
    now = utcnow()
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(next_attempt_at=now + timedelta(seconds=lease_s))
    )
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.url, WebhookDelivery.payload, Tenant.webhook_secret)
        .join(Job, Job.id == WebhookDelivery.job_id)
        .join(Tenant, Tenant.id == Job.tenant_id)
        .where(WebhookDelivery.id.in_(ids))
    ).all()
    return [DueDelivery(row.id, row.url, row.payload, row.webhook_secret or "") for row in rows]


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2·base, 4·base, … capped at max_s."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


def record_attempt(
    session: Session,
    delivery_id: uuid.UUID,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    backoff_base_s: float,
    backoff_max_s: float,
    retry_window_s: float,
) -> str | None:
    """Store one attempt and move the delivery on: delivered, retried later, or failed past its window.

    Returns the delivery's new state, or None when it no longer exists (its job was deleted).
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    now = utcnow()
    session.add(
        WebhookAttempt(delivery_id=delivery_id, at=now, status_code=status_code, error=error, duration_ms=duration_ms)
    )
    delivery.attempts += 1
    if error is None:
        delivery.state, delivery.delivered_at = "delivered", now
    else:
        retry_at = now + timedelta(seconds=backoff_s(delivery.attempts, backoff_base_s, backoff_max_s))
        if retry_at > delivery.created_at + timedelta(seconds=retry_window_s):
            delivery.state = "failed"
        else:
            delivery.next_attempt_at = retry_at
    session.flush()
    return delivery.state


def deliveries_of(session: Session, job_id: uuid.UUID) -> list[dict[str, Any]]:
    """A job's deliveries with every attempt, oldest first (the caller has scoped the job to its tenant)."""
    deliveries = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.created_at)
    ).all()
    attempts: dict[uuid.UUID, list[dict[str, Any]]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts)).order_by(WebhookAttempt.id)
        )
        for attempt in rows:
            attempts[attempt.delivery_id].append(
                {
                    "at": attempt.at.isoformat(),
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                }
            )
    return [
        {
            "id": str(d.id),
            "event": d.event,
            "url": d.url,
            "state": d.state,
            "created_at": d.created_at.isoformat(),
            "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
            "delivered_at": _iso(d.delivered_at),
            "attempts": attempts[d.id],
        }
        for d in deliveries
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
