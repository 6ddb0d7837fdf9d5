"""finished_job_stats: the roll-up of finished jobs behind /metrics, filled from the jobs already finished

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The bucket bounds of app/rollup.py when this migration was written.
DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


def upgrade() -> None:
    op.create_table(
        "finished_job_stats",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "status", "bucket"),
    )
    if op.get_bind().dialect.name == "postgresql":
        seconds = "extract(epoch FROM finished_at - started_at)"
    else:
        seconds = "(julianday(finished_at) - julianday(started_at)) * 86400.0"
    buckets = " ".join(f"WHEN {seconds} <= {bound} THEN {i}" for i, bound in enumerate(DURATION_BUCKETS))
    bucket = f"CASE WHEN started_at IS NULL THEN -1 {buckets} ELSE {len(DURATION_BUCKETS)} END"
    op.execute(
        "INSERT INTO finished_job_stats (kind, status, bucket, jobs, seconds) "
        f"SELECT kind, status, {bucket}, count(*), coalesce(sum({seconds}), 0.0) FROM jobs "
        f"WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY kind, status, {bucket}"
    )


def downgrade() -> None:
    op.drop_table("finished_job_stats")
