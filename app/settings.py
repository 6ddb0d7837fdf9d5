"""Service configuration, read from ``SOLVENT_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the API, the workers and the CLI read from the environment."""

    model_config = SettingsConfigDict(env_prefix="SOLVENT_", env_file=None, extra="ignore")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    broker_url: str = "redis://127.0.0.1:6379/0"
    broker_poll_interval_s: float = Field(
        0.1,
        gt=0,
        description="How often a worker polls a broker that cannot push (the embedded SQLite one); the hand-off "
        "waits about half of it, and each poll costs a little CPU while idle.",
    )
    queue_name: str = "solvent"
    api_key_secret: str = Field("dev-only-change-me", description="Server-side key for hashing API keys (HMAC-SHA256).")
    api_key_cache_s: float = Field(
        5.0,
        ge=0,
        description="How long an API process reuses a key's successful lookup; a revocation from "
        "another process takes effect within this time (0 looks every key up on every request).",
    )
    max_body_bytes: int = 32 * 1024 * 1024
    max_time_limit_s: float = 3600.0
    default_time_limit_s: float = 60.0
    job_memory_limit_mb: int = 4096
    check_time_limit_s: float = 600.0
    max_threads_per_job: int = 4
    kill_grace_s: float = 5.0
    max_attempts: int = 3
    lease_s: float = 30.0
    reaper_interval_s: float = 10.0
    rering_after_s: float = 120.0
    worker_heartbeat_s: float = 5.0
    worker_fresh_s: float = 30.0
    tenant_max_active_jobs: int = 100
    tenant_requests_per_minute: int = 6000
    tenant_max_streams: int = 20
    tenant_max_heavy_requests: int = 4
    retry_after_s: int = 5
    metrics_token: str | None = Field(None, description="Bearer token of GET /metrics; unset turns /metrics off.")
    metrics_cache_s: float = Field(15.0, ge=0, description="How long job metrics read from the database are reused.")
    embedded: bool = False
    job_ttl_s: int = Field(30 * 86400, ge=0, description="Default time-to-live of finished jobs; 0 keeps them.")
    retention_batch_size: int = Field(200, ge=1, description="Jobs deleted per retention transaction.")
    retention_max_batches: int = Field(10, ge=1, description="Retention transactions per reaper pass.")
    webhook_sweep_interval_s: float = 5.0
    webhook_batch_size: int = Field(20, ge=1, description="Deliveries one sweep claims.")
    webhook_concurrency: int = Field(10, ge=1, description="Deliveries one sweep posts at a time.")
    webhook_timeout_s: float = 10.0
    webhook_backoff_base_s: float = 10.0
    webhook_backoff_max_s: float = 900.0
    webhook_retry_window_s: float = Field(6 * 3600, ge=3600, description="How long a delivery is retried.")
    webhook_allow_networks: str = Field(
        "", description="Comma-separated CIDRs that webhooks may reach although not public (e.g. 10.0.0.0/8)."
    )


@cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
