"""The doorbell: tells workers that a job is waiting. Postgres holds the job; this only rings."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import uuid
import weakref
from collections.abc import Iterable
from functools import cache
from urllib.parse import urlsplit

import anyio.to_thread
import redis
import redis.asyncio as aioredis
from celery import Celery
from kombu.exceptions import ChannelError
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from sqlalchemy.exc import SQLAlchemyError

from app import store
from app.db import get_sessionmaker
from app.settings import get_settings

log = logging.getLogger("solvent.broker")

RUN_JOB_TASK = "solvent.run_job"


def celery_config(broker_url: str) -> dict[str, object]:
    """Celery settings shared by the API (sender) and the workers."""
    settings = get_settings()
    transport_options: dict[str, object] = {}
    if broker_url.startswith(("redis", "rediss")):
        # Above the longest allowed job, so Redis never re-delivers a job that is still running.
        transport_options["visibility_timeout"] = int(settings.max_time_limit_s * 2 + 600)
    return {
        "broker_url": broker_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_default_queue": settings.queue_name,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_timeout": 3,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options,
        "worker_hijack_root_logger": False,
    }


@cache
def get_sender() -> Celery:
    """A Celery app used only to send doorbell messages."""
    app = Celery("solvent-api")
    app.conf.update(celery_config(get_settings().broker_url))
    return app


# A forked child (a worker's pool process) must not reuse the parent's pooled broker connections: with the
# embedded SQLite broker, one connection used from two processes corrupts the file's locking.
os.register_at_fork(after_in_child=get_sender.cache_clear)


def ring(job_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Send one doorbell per job through Celery; returns those that were sent (the reaper rings the rest later).

    For the reaper, requeued attempts and non-Redis brokers (the embedded SQLite one); new submissions on
    Redis go through the event loop's ``DoorbellRinger``. The producer comes from the process's pool, so
    its connection outlives the call.
    """
    settings = get_settings()
    sent: list[uuid.UUID] = []
    sender = get_sender()
    try:
        with sender.producer_or_acquire() as producer:
            for job_id in job_ids:
                sender.send_task(
                    RUN_JOB_TASK,
                    args=[str(job_id)],
                    queue=settings.queue_name,
                    producer=producer,
                    retry=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )
                sent.append(job_id)
    except Exception as exc:  # the broker being down must never lose an accepted job
        log.warning("could not ring the doorbell (%d sent); the reaper will retry: %s", len(sent), exc)
    return sent


REDIS_SCHEMES = ("redis", "rediss")
#: Celery's task-message body for keyword-less arguments: [args, kwargs, embed] (message protocol 2).
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"


def doorbell_message(job_id: uuid.UUID, queue_name: str) -> str:
    """A ``solvent.run_job`` doorbell as kombu's Redis transport stores a Celery task message (protocol 2).

    Written here rather than by ``Celery.send_task`` because that costs about 300 µs of CPU per message
    (routing, signals, a kombu producer and connection object per call), as much as the rest of a
    submission; this takes a few µs and a batch goes in one LPUSH. The layout is Celery's documented
    message protocol 2 in kombu's Redis envelope; tests/workers run every job through real Celery
    workers consuming these messages, so a change in either library shows at once.
    """
    task_id = str(uuid.uuid4())
    args = [str(job_id)]
    body = json.dumps([args, {}, _EMBED]).encode()
    headers: dict[str, object] = {
        "lang": "py", "task": RUN_JOB_TASK, "id": task_id, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
        "parent_id": None, "argsrepr": repr(args), "kwargsrepr": "{}", "origin": _ORIGIN, "ignore_result": False,
        "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
    }  # fmt: skip
    properties: dict[str, object] = {
        "correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue_name}, "priority": 0, "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }  # fmt: skip
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        }
    )


class DoorbellRinger:
    """Rings new jobs' doorbells from a task on its event loop, as many per LPUSH as are waiting.

    A submission hands its job over (``ring_soon``) and answers at once: the broker's round trip stays
    off the request, and the submissions that arrive meanwhile share the next push. A job whose doorbell
    could not be sent is marked unrung for the reaper; one handed over to a process that dies before
    ringing it was stored as rung and is rung again after ``rering_after_s`` (the reaper).
    """

    def __init__(self) -> None:
        self._waiting: list[uuid.UUID] = []
        self._task: asyncio.Task[None] | None = None
        self._clients: dict[str, aioredis.Redis] = {}

    def ring_soon(self, job_id: uuid.UUID) -> None:
        """Queue a doorbell; the ringing task starts when none is running."""
        self._waiting.append(job_id)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Ring what is still waiting, then close the broker connections."""
        if self._task is not None:
            await self._task
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                sent = set(await self._ring(batch))
                unsent = [job_id for job_id in batch if job_id not in sent]
                if unsent:
                    await anyio.to_thread.run_sync(_mark_unrung, unsent)
        finally:
            self._task = None

    async def _ring(self, job_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        settings = get_settings()
        if urlsplit(settings.broker_url).scheme not in REDIS_SCHEMES:
            return await anyio.to_thread.run_sync(ring, job_ids)
        try:
            messages = [doorbell_message(job_id, settings.queue_name) for job_id in job_ids]
            await self._client(settings.broker_url).lpush(settings.queue_name, *messages)
        except Exception as exc:  # the broker being down must never lose an accepted job
            log.warning("could not ring %d doorbells; the reaper will retry: %s", len(job_ids), exc)
            return []
        return job_ids

    def _client(self, url: str) -> aioredis.Redis:
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = aioredis.Redis.from_url(
                url,
                socket_connect_timeout=3,
                socket_timeout=3,
                retry=AsyncRetry(ExponentialBackoff(cap=0.7, base=0.2), 2),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
        return client


def _mark_unrung(job_ids: list[uuid.UUID]) -> None:
    """Leave jobs whose doorbell was not sent to the reaper (best effort: else it rerings them later)."""
    try:
        with get_sessionmaker()() as session:
            for job_id in job_ids:
                store.mark_unrung(session, job_id)
            session.commit()
    except SQLAlchemyError as exc:
        log.warning("could not mark %d jobs unrung; the reaper rings them later: %s", len(job_ids), exc)


#: Each event loop's ringer (its task and connections belong to that loop): one per API process.
_ringers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DoorbellRinger] = weakref.WeakKeyDictionary()


def ring_soon(job_id: uuid.UUID) -> None:
    """Ring a new job's doorbell from the running event loop's ringer (see ``DoorbellRinger``)."""
    loop = asyncio.get_running_loop()
    ringer = _ringers.get(loop)
    if ringer is None:
        ringer = _ringers[loop] = DoorbellRinger()
    ringer.ring_soon(job_id)


async def close_ringer() -> None:
    """Ring the running event loop's waiting doorbells and close its connections (at shutdown)."""
    ringer = _ringers.pop(asyncio.get_running_loop(), None)
    if ringer is not None:
        await ringer.close()


def ring_and_mark(job_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Ring one doorbell per job, then record in a transaction of its own which rang; returns those.

    Recording is best effort: a job not marked rung is rung again by the reaper, and a spare doorbell
    is harmless (it claims whichever job is due, or nothing).
    """
    rung = ring(job_ids)
    if rung:
        try:
            with get_sessionmaker()() as session:
                store.mark_rung(session, rung)
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("could not record %d doorbells as rung; the reaper may ring them again: %s", len(rung), exc)
    return rung


def waiting_doorbells() -> int | None:
    """How many doorbells wait in the broker, not yet delivered to a worker; None when it cannot tell."""
    sender = get_sender()
    try:
        with sender.connection_for_write() as connection:
            declared = connection.default_channel.queue_declare(queue=get_settings().queue_name, passive=True)
            return int(declared.message_count)
    except ChannelError:
        return 0  # the queue does not exist: every doorbell has been delivered
    except Exception as exc:
        log.warning("could not count the waiting doorbells: %s", exc)
        return None


def broker_reachable() -> bool:
    """True when the broker accepts a connection within a few seconds."""
    try:
        with get_sender().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:
        return False
