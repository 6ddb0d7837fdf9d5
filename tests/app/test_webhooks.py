"""Webhooks against a local receiver: signed, retried from PostgreSQL by the workers' sweep, SSRF-guarded."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app import webhooks
from app.cli import app as cli
from app.db import Job, Tenant, WebhookDelivery, get_sessionmaker, utcnow
from tests.conftest import Api, wait_for
from workers.webhooks import post_delivery

pytestmark = pytest.mark.usefixtures("worker")


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records each POST and answers the next planned status."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.planned = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.planned.pop(0) if receiver.planned else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/solvent"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """The receiver-side recipe of docs/webhooks.md."""
    timestamp = headers["solvent-webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(f"v1={expected}", part.strip()) for part in headers["solvent-webhook-signature"].split(",")
    )


def test_signature_verifies_and_attempts_are_listed(api: Api, receiver: Receiver) -> None:
    secret = api.request("GET", "/v1/webhooks/secret").json()["secret"]
    job = api.submit("fake", {"steps": 2, "seconds": 0}, webhook_url=receiver.url, metadata={"order": 7})
    assert job["webhook_url"] == receiver.url
    wait_for(lambda: receiver.received, 30, what="the webhook")
    headers, body = receiver.received[0]
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"succeeded", b"failed"))
    assert not verify("whsec_wrong", headers, body)
    payload = json.loads(body)
    assert payload["type"] == "job.finished" and payload["id"] == headers["solvent-webhook-id"]
    assert payload["job"]["id"] == job["id"] and payload["job"]["status"] == "succeeded"
    assert payload["job"]["metadata"] == {"order": 7} and payload["job"]["result"]["feasible"] is True

    def delivered() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = api.request("GET", f"/v1/jobs/{job['id']}/webhooks").json()["items"]
        return items if items and items[0]["state"] == "delivered" else None

    [delivery] = wait_for(delivered, 10, what="the delivery to be recorded")
    assert delivery["id"] == payload["id"] and delivery["url"] == receiver.url
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    assert api.request("GET", f"/v1/jobs/{uuid.uuid4()}/webhooks").status_code == 404


def test_a_receiver_that_fails_twice_gets_the_third_delivery(api: Api, receiver: Receiver) -> None:
    receiver.planned = [500, 503]
    job = api.submit("fake", {"steps": 1, "seconds": 0}, webhook_url=receiver.url)
    wait_for(lambda: len(receiver.received) >= 3, 40, what="three delivery attempts")
    ids = {headers["solvent-webhook-id"] for headers, _ in receiver.received}
    assert len(ids) == 1 and len({body for _, body in receiver.received}) == 1

    def delivered() -> dict[str, Any] | None:
        items = api.request("GET", f"/v1/jobs/{job['id']}/webhooks").json()["items"]
        return items[0] if items and items[0]["state"] == "delivered" else None

    delivery = wait_for(delivered, 10, what="the delivery to be recorded")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in delivery["attempts"]] == ["HTTP 500", "HTTP 503", None]
    assert len(receiver.received) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://192.168.0.10:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://127.0.0.2/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@127.0.0.1/hook",
    ],
)
def test_private_and_odd_urls_are_refused_at_submission(api: Api, url: str) -> None:
    response = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": {"steps": 0}, "webhook_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["webhook_url"]


def test_the_address_is_checked_again_at_delivery() -> None:
    delivery = webhooks.DueDelivery(uuid.uuid4(), "http://10.9.8.7/hook", {"x": 1}, "whsec_x")
    import httpx

    with httpx.Client() as client:
        status, error = post_delivery(client, delivery)
    assert status is None and error is not None and error.startswith("refused:") and "private" in error


def test_tenant_default_webhook_hears_a_cancelled_job(api: Api, receiver: Receiver) -> None:
    with get_sessionmaker()() as session:
        from app.security import tenant_for_key

        tenant_id = tenant_for_key(session, api.key)
        name = session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    configured = CliRunner().invoke(cli, ["tenants", "configure", "--tenant", str(name), "--webhook-url", receiver.url])
    assert configured.exit_code == 0, configured.output
    refused = CliRunner().invoke(
        cli, ["tenants", "configure", "--tenant", str(name), "--webhook-url", "http://10.0.0.1/"]
    )
    assert refused.exit_code == 2
    job = api.submit("fake", {"steps": 1000, "seconds": 0.05})
    api.wait(job["id"], statuses=("running",))
    assert api.request("POST", f"/v1/jobs/{job['id']}/cancel").status_code == 202
    wait_for(lambda: receiver.received, 30, what="the webhook of the cancelled job")
    payload = json.loads(receiver.received[0][1])
    assert payload["job"]["id"] == job["id"] and payload["job"]["status"] == "cancelled"


def test_a_delivery_gives_up_after_its_retry_window(api: Api) -> None:
    job = api.submit("fake", {"steps": 0, "seconds": 0})
    api.wait(job["id"])
    with get_sessionmaker()() as session:
        delivery = WebhookDelivery(
            job_id=uuid.UUID(job["id"]),
            url="http://127.0.0.1:9/none",
            event="job.finished",
            payload={},
            state="pending",  # never committed, so the workers' sweep cannot see it
            attempts=0,
            next_attempt_at=utcnow(),
            created_at=utcnow() - timedelta(seconds=3500),
        )
        session.add(delivery)
        session.flush()
        kwargs: dict[str, Any] = {"status_code": 500, "error": "HTTP 500", "duration_ms": 1, "backoff_base_s": 60.0}
        state = webhooks.record_attempt(session, delivery.id, **kwargs, backoff_max_s=900, retry_window_s=3600)
        assert state == "pending"  # 3500 s + 60 s is still inside the hour: retried later
        assert delivery.next_attempt_at > utcnow() + timedelta(seconds=50)
        delivery.attempts = 6  # the next delay is 60 · 2^6 s, capped at 900 s: past the hour
        assert (
            webhooks.record_attempt(session, delivery.id, **kwargs, backoff_max_s=900, retry_window_s=3600) == "failed"
        )
        assert session.get(Job, uuid.UUID(job["id"])) is not None
        session.rollback()


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [webhooks.backoff_s(n, 10, 900) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]


def test_a_failed_job_is_announced_with_its_error(api: Api, receiver: Receiver) -> None:
    job = api.submit("fake", {"steps": 2, "seconds": 0, "mode": "wrong"}, webhook_url=receiver.url)
    wait_for(lambda: receiver.received, 30, what="the webhook of the failed job")
    announced = json.loads(receiver.received[0][1])["job"]
    assert announced["id"] == job["id"] and announced["status"] == "failed"
    assert announced["error"]["code"] == "verification_failed" and announced["result"] is None
