"""The Celery application of the workers: Redis (or SQLAlchemy, embedded) as doorbell only, no result backend.

The main process of each worker also runs the heartbeat and the reaper (threads, outside the pool).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Celery
from celery.signals import after_setup_logger, worker_process_init, worker_ready, worker_shutdown
from kombu.entity import Queue
from kombu.transport import sqlalchemy as sqla_transport

from app import broker, store
from app.broker import celery_config
from app.db import get_engine, get_sessionmaker
from app.settings import get_settings
from workers import reaper, runner

log = logging.getLogger("solvent.worker")
Function = TypeVar("Function", bound=Callable[..., Any])

settings = get_settings()
HOUSEKEEPING_QUEUE = f"{settings.queue_name}.housekeeping"
celery_app = Celery("solvent", include=["workers.tasks", "workers.webhooks"])
celery_app.conf.update(celery_config(settings.broker_url))
celery_app.conf.update(
    worker_max_tasks_per_child=200,
    # Backstop only: the runner's watchdog ends a solve long before this kills the pool process.
    task_time_limit=int(settings.max_time_limit_s * 1.5 + 300),
    worker_max_memory_per_child=512_000,  # KiB; the solve itself runs in its own limited process
    worker_send_task_events=False,
    worker_cancel_long_running_tasks_on_connection_loss=False,
    # Doorbells alone on the job queue, so the reaper can count them (``broker.waiting_doorbells``).
    task_queues=[Queue(name) for name in (settings.queue_name, HOUSEKEEPING_QUEUE)],  # type: ignore[no-untyped-call]
    task_routes={"solvent.deliver_webhooks": {"queue": HOUSEKEEPING_QUEUE}},
    # The reaper runs in the main process (see _start_heartbeat), not here: beat's tasks wait for a free
    # pool process, and the reaper must run while every pool process is busy.
    beat_schedule={
        "webhooks": {
            "task": "solvent.deliver_webhooks",
            "schedule": settings.webhook_sweep_interval_s,
            "options": {"expires": 30},
        },
    },
)

if settings.broker_url.startswith("sqla+"):
    # The embedded broker (kombu's SQLAlchemy transport) cannot push: a worker finds a doorbell at its next
    # poll, every second by default. The transport hands every transport option to create_engine, so the
    # interval is set on its class.
    sqla_transport.Transport.polling_interval = settings.broker_poll_interval_s

_stop_heartbeat = threading.Event()


def task(name: str, **options: Any) -> Callable[[Function], Function]:
    """Register the decorated function as the Celery task ``name`` and leave it as it is, typed.

    (Celery's own ``task`` decorator is untyped; the workers start tasks by name, never through the object.)
    """

    def register(function: Function) -> Function:
        celery_app.task(name=name, **options)(function)
        return function

    return register


#: The periodic housekeeping tasks; Celery's own lines about each run of them are dropped from the log.
HOUSEKEEPING = tuple(entry["task"] for entry in celery_app.conf.beat_schedule.values())


class QuietHousekeeping(logging.Filter):
    """Drop Celery's "sending due task", "received" and "succeeded" lines of the housekeeping tasks, which
    otherwise fill the terminal every few seconds; what the tasks themselves log (a requeue, a failed
    delivery) still shows, and so does everything about jobs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("celery"):
            return True
        message = record.getMessage()
        return not any(task in message for task in HOUSEKEEPING)


def _quiet_housekeeping(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(QuietHousekeeping())


def _heartbeat_loop(hostname: str) -> None:
    while not _stop_heartbeat.wait(settings.worker_heartbeat_s):
        try:
            with get_sessionmaker()() as session:
                store.beat_worker(session, hostname)
                session.commit()
        except Exception as exc:
            log.warning("worker heartbeat failed: %s", exc)


def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    hostname = getattr(sender, "hostname", None) or "worker"
    try:
        with get_sessionmaker()() as session:
            store.beat_worker(session, hostname)
            session.commit()
    except Exception as exc:
        log.warning("first worker heartbeat failed: %s", exc)
    threading.Thread(target=_heartbeat_loop, args=(hostname,), daemon=True, name="solvent-heartbeat").start()
    threading.Thread(target=reaper.run_forever, args=(_stop_heartbeat,), daemon=True, name="solvent-reaper").start()


def _init_pool_process(**_: Any) -> None:
    """A pool process (also one that replaces a recycled one) must not use the sockets it inherited, and
    starts its template process (``workers.template``), whose imports are then done before its first job.

    The main process's heartbeat and reaper hold pooled database and broker connections; a forked
    pool process would otherwise talk over the same sockets, interleaving both processes' transactions.
    ``dispose(close=False)`` drops the inherited pool without closing it under the main process.
    """
    get_engine().dispose(close=False)
    broker.get_sender.cache_clear()
    runner.start_template()


def _stop(**_: Any) -> None:
    _stop_heartbeat.set()


# Connected by call, not as decorators (Celery's are untyped); the module keeps the receivers alive.
after_setup_logger.connect(_quiet_housekeeping)
worker_ready.connect(_start_heartbeat)
worker_process_init.connect(_init_pool_process)
worker_shutdown.connect(_stop)
