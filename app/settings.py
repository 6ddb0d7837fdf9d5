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
    queue_name: str = "solvent"
    api_key_secret: str = Field("dev-only-change-me", description="Server-side key for hashing API keys (HMAC-SHA256).")
    max_body_bytes: int = 32 * 1024 * 1024
    max_time_limit_s: float = 3600.0
    default_time_limit_s: float = 60.0
    job_memory_limit_mb: int = 4096
    kill_grace_s: float = 5.0
    max_attempts: int = 3
    lease_s: float = 30.0
    reaper_interval_s: float = 10.0
    rering_after_s: float = 120.0
    worker_heartbeat_s: float = 5.0
    worker_fresh_s: float = 30.0
    tenant_max_active_jobs: int = 100
    tenant_requests_per_minute: int = 6000
    retry_after_s: int = 5
    embedded: bool = False


@cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
