"""The finished-jobs roll-up behind ``/metrics``: counts and solve-duration buckets, kept as jobs finish.

Each terminal transition adds its job to one row of ``finished_job_stats`` (kind, status, duration
bucket) in the transaction that finishes it, so a scrape reads a few rows instead of every finished
job. The counts are of every job that ever finished: deleting a finished job does not lower them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import FinishedJobStats, Job

#: Upper bounds (seconds) of the solve-duration histogram's buckets; bucket i holds durations in
#: (bound[i-1], bound[i]], bucket len(bounds) the longer ones, and bucket -1 jobs that never started.
DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
NEVER_STARTED = -1


def duration_seconds(dialect: str) -> ColumnElement[Any]:
    """A job's started-to-finished seconds, computed by the database."""
    if dialect == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


def duration_bucket(seconds: ColumnElement[Any]) -> ColumnElement[Any]:
    """The bucket index of a job's duration (``NEVER_STARTED`` without a start)."""
    return case(
        (Job.started_at.is_(None), NEVER_STARTED),
        *((seconds <= bound, index) for index, bound in enumerate(DURATION_BUCKETS)),
        else_=len(DURATION_BUCKETS),
    )


def record_finished(session: Session, job_id: uuid.UUID) -> None:
    """Add a job that has just reached its terminal status to the roll-up (one statement, same transaction)."""
    dialect = session.get_bind().dialect.name
    seconds = duration_seconds(dialect)
    source = select(Job.kind, Job.status, duration_bucket(seconds), literal(1), func.coalesce(seconds, 0.0)).where(
        Job.id == job_id
    )
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(FinishedJobStats)
    statement = insert.from_select(["kind", "status", "bucket", "jobs", "seconds"], source)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "status", "bucket"],
        set_={
            "jobs": FinishedJobStats.jobs + statement.excluded.jobs,
            "seconds": FinishedJobStats.seconds + statement.excluded.seconds,
        },
    )
    session.execute(statement)
