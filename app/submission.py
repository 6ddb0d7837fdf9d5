"""Storing a validated submission: one database round trip on PostgreSQL, one ORM transaction on SQLite.

On PostgreSQL the tenant's lock, the quota check (on the trigger-kept ``tenant_active_jobs``), the
Idempotency-Key check (by the insert, on its unique index) and both inserts run inside the server-side
function ``solvent_submit_job`` (migration 0006), called in autocommit on a connection from a small
asynchronous psycopg pool of the event loop: no thread hand-off, no ORM, no ping of a busy connection,
no separate BEGIN and COMMIT. The embedded SQLite store does the same steps through the ORM
(``store.create_job`` and the tenant lock), in a thread.

Why a psycopg pool beside SQLAlchemy's engine: the submission is the hottest path of the service, and
SQLAlchemy's pooled checkout pings the server (a round trip), its ORM flush costs more CPU than the
whole statement, and a synchronous session needs a thread; every other path keeps the engine.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

import anyio.to_thread
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import make_url

from app import store
from app.db import Job, JobStatus, get_sessionmaker
from app.settings import get_settings

#: A pooled connection idle longer than this is pinged before use, so one left dead by a database restart
#: is replaced instead of failing a request; busy connections are not pinged.
PING_IDLE_AFTER_S = 1.0

SUBMIT_SQL = (
    "SELECT outcome, job_id, created_at FROM solvent_submit_job("
    "%s, %s, %s, %s, %s, %s::json, %s::json, %s, %s, %s, %s, %s::json, %s::json)"
)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


class Outcome(StrEnum):
    """What became of a submission."""

    CREATED = "created"
    EXISTING = "existing"  # the tenant already used its Idempotency-Key
    OVER_QUOTA = "over_quota"  # the tenant's active jobs are at its quota


@dataclass(frozen=True)
class CreatedJob:
    """A job just stored, with what its answer shows: built in microseconds, unlike an ORM ``Job``."""

    id: uuid.UUID
    kind: str
    solver: str
    created_at: datetime
    priority: int
    options: dict[str, Any]
    client_metadata: dict[str, Any]
    webhook_url: str | None
    instance_summary: dict[str, Any] | None
    warnings: list[str] | None
    status: JobStatus = JobStatus.QUEUED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    progress: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Submitted:
    """A submission's outcome: the job it created, or the earlier job of its Idempotency-Key, or neither
    (over quota)."""

    outcome: Outcome
    created: CreatedJob | Job | None = None
    previous: Job | None = None


def uses_postgresql() -> bool:
    """True when the configured store is PostgreSQL (the one-statement path applies)."""
    return _is_postgresql(get_settings().database_url)


@cache
def _is_postgresql(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


_returned_at: weakref.WeakKeyDictionary[psycopg.AsyncConnection[TupleRow], float] = weakref.WeakKeyDictionary()


async def _note_returned(connection: psycopg.AsyncConnection[TupleRow]) -> None:
    _returned_at[connection] = time.monotonic()


async def _ping_if_idle(connection: psycopg.AsyncConnection[TupleRow]) -> None:
    returned = _returned_at.get(connection)
    if returned is None or time.monotonic() - returned > PING_IDLE_AFTER_S:
        await connection.execute("")  # raises on a dead connection; the pool then replaces it


#: Each event loop's pool (asyncio connections belong to the loop that opened them): one per API process
#: in production; a test client runs a loop of its own.
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Pool]] = weakref.WeakKeyDictionary()


async def _open_pool() -> Pool:
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    pool: Pool = AsyncConnectionPool(
        url.render_as_string(hide_password=False),
        min_size=1,
        max_size=8,
        timeout=5,
        kwargs={"autocommit": True, "connect_timeout": 3, "prepare_threshold": 0},
        check=_ping_if_idle,
        reset=_note_returned,
        name="solvent-submissions",
        open=False,
    )
    await pool.open()
    return pool


async def submission_pool() -> Pool:
    """The running event loop's pool of autocommit connections for submissions, opened on first use."""
    loop = asyncio.get_running_loop()
    opening = _pools.get(loop)
    if opening is None:
        opening = _pools[loop] = loop.create_task(_open_pool())
    try:
        return await asyncio.shield(opening)  # a cancelled request does not cancel the shared opening
    except Exception:
        if _pools.get(loop) is opening:
            del _pools[loop]  # the next submission tries again
        raise


async def close_submission_pool() -> None:
    """Close the running event loop's pool, if it has one (at the application's shutdown)."""
    opening = _pools.pop(asyncio.get_running_loop(), None)
    if opening is not None:
        await (await opening).close()


async def submit(tenant_id: int, new: store.NewJob) -> Submitted:
    """Store a validated job unless its Idempotency-Key was used or the tenant is at its active-job quota.

    The caller rings the doorbell for a created job.
    """
    quota = get_settings().tenant_max_active_jobs
    if not uses_postgresql():
        return await anyio.to_thread.run_sync(_submit_with_orm, tenant_id, new, quota)
    params = (
        tenant_id, quota, new.kind, new.solver, new.priority, json.dumps(new.options), json.dumps(new.metadata),
        new.instance_json, new.idempotency_key, new.request_hash, new.webhook_url,
        None if new.instance_summary is None else json.dumps(new.instance_summary),
        json.dumps(new.warnings) if new.warnings else None,
    )  # fmt: skip
    async with (await submission_pool()).connection() as connection:
        row = await (await connection.execute(SUBMIT_SQL, params)).fetchone()
    assert row is not None, "solvent_submit_job returns one row"
    outcome, job_id, created_at = Outcome(row[0]), row[1], row[2]
    if outcome is Outcome.CREATED:
        return Submitted(outcome, created=_created_job(new, job_id, created_at))
    if outcome is Outcome.EXISTING:
        previous = await anyio.to_thread.run_sync(find_previous, tenant_id, new.idempotency_key or "")
        return Submitted(outcome, previous=previous)
    return Submitted(outcome)


def find_previous(tenant_id: int, idempotency_key: str) -> Job | None:
    """The tenant's job created with this Idempotency-Key, if any (blocking)."""
    with get_sessionmaker()() as session:
        return store.find_by_idempotency_key(session, tenant_id, idempotency_key)


def _created_job(new: store.NewJob, job_id: uuid.UUID, created_at: datetime) -> CreatedJob:
    return CreatedJob(
        id=job_id,
        kind=new.kind,
        solver=new.solver,
        created_at=created_at.astimezone(UTC),
        priority=new.priority,
        options=new.options,
        client_metadata=new.metadata,
        webhook_url=new.webhook_url,
        instance_summary=new.instance_summary,
        warnings=new.warnings or None,
    )


def _submit_with_orm(tenant_id: int, new: store.NewJob, quota: int) -> Submitted:
    """The same steps through the ORM, for a store without the server-side function (SQLite)."""
    with get_sessionmaker()() as session:
        store.lock_tenant(session, tenant_id)  # first, so the lookup and the count see every earlier submission
        if new.idempotency_key is not None:
            previous = store.find_by_idempotency_key(session, tenant_id, new.idempotency_key)
            if previous is not None:  # leaving the block rolls back without expiring it
                return Submitted(Outcome.EXISTING, previous=previous)
        if store.count_active_jobs(session, tenant_id, at_most=quota) >= quota:
            return Submitted(Outcome.OVER_QUOTA)
        job = store.create_job(session, tenant_id, new)
        session.commit()
        return Submitted(Outcome.CREATED, created=job)
