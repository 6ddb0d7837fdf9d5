"""solvent_submit_job: a submission's lock, idempotency lookup, quota count and inserts in one statement (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 19:00:00

One call is one database round trip and, in autocommit, one transaction: the API's submission path
(app/submission.py) needs nothing else from the database. Each statement inside takes a fresh snapshot
(READ COMMITTED), so the count that follows the tenant's lock sees every submission that held it before.
SQLite (the embedded mode) has no server-side functions; there the ORM does the same steps.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Namespace of the per-tenant advisory lock that serializes a tenant's submissions (ASCII "Solv").
TENANT_LOCK_NAMESPACE = 0x536F6C76

SUBMIT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION solvent_submit_job(
    p_tenant_id bigint,
    p_max_active integer,
    p_kind text,
    p_solver text,
    p_priority integer,
    p_options json,
    p_metadata json,
    p_instance text,
    p_idempotency_key text,
    p_request_hash text,
    p_webhook_url text,
    p_instance_summary json,
    p_warnings json
) RETURNS TABLE (outcome text, job_id uuid, created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_id uuid;
    v_now timestamptz := clock_timestamp();
    v_active integer;
BEGIN
    PERFORM pg_advisory_xact_lock({TENANT_LOCK_NAMESPACE}, (p_tenant_id % 2147483647)::integer);
    IF p_idempotency_key IS NOT NULL THEN
        SELECT j.id INTO v_id FROM jobs j WHERE j.tenant_id = p_tenant_id AND j.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            RETURN QUERY SELECT 'existing'::text, v_id, NULL::timestamptz;
            RETURN;
        END IF;
    END IF;
    SELECT count(*) INTO v_active FROM (
        SELECT 1 FROM jobs j WHERE j.tenant_id = p_tenant_id AND j.status IN ('queued', 'running')
        LIMIT p_max_active + 1
    ) AS active;
    IF v_active >= p_max_active THEN
        RETURN QUERY SELECT 'over_quota'::text, NULL::uuid, NULL::timestamptz;
        RETURN;
    END IF;
    v_id := gen_random_uuid();
    INSERT INTO jobs (
        id, tenant_id, kind, solver, status, priority, options, metadata, instance, created_at, rung_at,
        attempts, cancel_requested, idempotency_key, request_hash, webhook_url, instance_summary, warnings
    ) VALUES (
        v_id, p_tenant_id, p_kind, p_solver, 'queued', p_priority, p_options, p_metadata, p_instance, v_now, v_now,
        0, false, p_idempotency_key, p_request_hash, p_webhook_url, p_instance_summary, p_warnings
    );
    INSERT INTO job_events (job_id, at, type, data) VALUES (v_id, v_now, 'status', '{{"status": "queued"}}'::json);
    RETURN QUERY SELECT 'created'::text, v_id, v_now;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SUBMIT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS solvent_submit_job(bigint, integer, text, text, integer, json, json, text, "
            "text, text, text, json, json)"
        )
