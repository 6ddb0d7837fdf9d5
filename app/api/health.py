"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import broker, store
from app.db import get_sessionmaker
from app.settings import get_settings

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process serves")
def live() -> dict[str, str]:
    """Always 200 while the process answers."""
    return {"status": "ok"}


@router.get("/ready", summary="Database, broker and a worker answer")
def ready() -> JSONResponse:
    """200 when the database, the broker and at least one worker answer; else 503 naming what failed."""
    checks: dict[str, Any] = {}
    workers: list[str] = []
    try:
        with get_sessionmaker()() as session:
            session.execute(text("SELECT 1"))
            workers = store.live_workers(session, get_settings().worker_fresh_s)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = "ok" if broker.broker_reachable() else "unreachable"
    checks["workers"] = len(workers) if workers else "none alive"
    ok = checks["database"] == "ok" and checks["broker"] == "ok" and bool(workers)
    headers = None if ok else {"Retry-After": str(get_settings().retry_after_s)}
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503, headers)
