"""The API's doorbell ringer against the real Redis: what a Celery worker will read, and nothing left behind."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import redis

from app import broker
from app.settings import get_settings


def test_closing_the_ringer_pushes_every_waiting_doorbell_as_a_celery_task_message(monkeypatch: Any) -> None:
    settings = get_settings()
    queue = f"ringer-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(settings, "queue_name", queue)
    job_ids = [uuid.uuid4() for _ in range(50)]

    async def submit_then_shut_down() -> None:
        for job_id in job_ids:  # as 50 requests answered before the ringer's task first runs
            broker.ring_soon(job_id)
        await broker.close_ringer()  # what the application's shutdown awaits

    asyncio.run(submit_then_shut_down())
    client = redis.Redis.from_url(settings.broker_url)
    try:
        messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.delete(queue)
        client.close()
    assert len(messages) == len(job_ids)
    rung = []
    for message in messages:
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert message["headers"]["task"] == broker.RUN_JOB_TASK and kwargs == {}
        assert message["properties"]["delivery_info"]["routing_key"] == queue
        rung.extend(args)
    assert sorted(rung) == sorted(str(job_id) for job_id in job_ids)
