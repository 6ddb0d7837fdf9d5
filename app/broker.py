"""The doorbell: tells workers that a job is waiting. Postgres holds the job; this only rings."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from functools import cache

from celery import Celery
from kombu.exceptions import ChannelError
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
    """Send one doorbell per job; returns those that were sent (the reaper rings the rest later).

    The connection comes from a pool kept by this process, so a submission sets none up.
    """
    sent: list[uuid.UUID] = []
    sender = get_sender()
    try:
        # A producer from the process's pool: its connection (and the queue it declared) outlives the call.
        with sender.producer_or_acquire() as producer:
            for job_id in job_ids:
                sender.send_task(
                    RUN_JOB_TASK,
                    args=[str(job_id)],
                    queue=get_settings().queue_name,
                    producer=producer,
                    retry=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )
                sent.append(job_id)
    except Exception as exc:  # the broker being down must never lose an accepted job
        log.warning("could not ring the doorbell (%d sent); the reaper will retry: %s", len(sent), exc)
    return sent


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
