"""The webhook sweep: post due deliveries, signed, to the address that passed the SSRF check.

Beat runs it every ``SOLVENT_WEBHOOK_SWEEP_INTERVAL_S``. State lives in PostgreSQL (app/webhooks.py),
so retries survive restarts; a delivery claimed by a sweep that dies is retried after its lease.
Delivery is at least once: receivers deduplicate by the ``Solvent-Webhook-Id`` header.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlunsplit

import httpx

from app import webhooks
from app.db import get_sessionmaker
from app.settings import get_settings
from workers.celery_app import task

log = logging.getLogger("solvent.webhooks")
USER_AGENT = "Solvent-Webhooks/1"


def post_delivery(client: httpx.Client, delivery: webhooks.DueDelivery) -> tuple[int | None, str | None]:
    """POST one delivery; (HTTP status or None, error or None when the receiver answered 2xx).

    The host is resolved and checked again here and the request goes to that checked address (Host
    header and TLS server name kept), so a name re-pointed after submission cannot reach inside.
    """
    settings = get_settings()
    try:
        parts, addresses = webhooks.check_url(delivery.url, webhooks.parse_networks(settings.webhook_allow_networks))
    except webhooks.UnsafeWebhookUrl as exc:
        return None, f"refused: {exc}"
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Host": parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        webhooks.ID_HEADER: str(delivery.id),
        webhooks.TIMESTAMP_HEADER: timestamp,
        webhooks.SIGNATURE_HEADER: webhooks.sign(delivery.secret, timestamp, body),
    }
    try:
        response = client.post(pinned, content=body, headers=headers, extensions={"sni_hostname": parts.hostname})
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def deliver_due() -> dict[str, int]:
    """Claim due deliveries, post them a few at a time, record the attempts; counts by new state.

    The sweep runs in a worker slot, so it is bounded: at most ``webhook_batch_size`` deliveries, posted
    ``webhook_concurrency`` at a time, hold the slot for at most about
    ``ceil(batch / concurrency) · webhook_timeout_s`` even when every receiver hangs.
    """
    settings = get_settings()
    rounds = -(-settings.webhook_batch_size // settings.webhook_concurrency)
    with get_sessionmaker()() as session:
        due = webhooks.claim_due(
            session, limit=settings.webhook_batch_size, lease_s=rounds * settings.webhook_timeout_s + 30
        )
        session.commit()
    if not due:
        return {}
    timeout = httpx.Timeout(settings.webhook_timeout_s)
    with (
        httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        ThreadPoolExecutor(max_workers=settings.webhook_concurrency, thread_name_prefix="webhook") as pool,
    ):
        states = list(pool.map(lambda delivery: _attempt(client, delivery), due))
    return dict(Counter(states))


def _attempt(client: httpx.Client, delivery: webhooks.DueDelivery) -> str:
    settings = get_settings()
    started = time.monotonic()
    status_code, error = post_delivery(client, delivery)
    with get_sessionmaker()() as session:
        state = webhooks.record_attempt(
            session,
            delivery.id,
            status_code=status_code,
            error=error,
            duration_ms=round((time.monotonic() - started) * 1000),
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
            retry_window_s=settings.webhook_retry_window_s,
        )
        session.commit()
    if error:
        log.info("webhook %s to %s: %s (now %s)", delivery.id, delivery.url, error, state)
    return state or "gone"


@task("solvent.deliver_webhooks", ignore_result=True)
def deliver_webhooks() -> dict[str, int]:
    """Beat's webhook sweep."""
    return deliver_due()
