"""The reaper: settles jobs whose worker was lost and rings doorbells that were lost.

It runs in a thread of each worker's main process, outside the pool, so it keeps running while every
pool process is busy solving; an advisory lock lets one pass run at a time across all workers.
One pass (``reap_once``) has one step per kind of repair; add new periodic work as another step.
"""

from __future__ import annotations

import logging
import threading

from app import broker, store
from app.db import get_sessionmaker
from app.settings import get_settings
from workers.retention import purge_expired_jobs

log = logging.getLogger("solvent.reaper")


def reap_once() -> dict[str, int]:
    """One pass: settle expired leases, ring again as many queued jobs as doorbells were lost, then delete
    expired finished jobs."""
    settings = get_settings()
    waiting = broker.waiting_doorbells()
    with get_sessionmaker()() as session:
        if not store.lock_reaper(session):
            return {"requeued": 0, "failed": 0, "cancelled": 0, "rung": 0, "purged": 0}
        report = store.reap(
            session,
            max_attempts=settings.max_attempts,
            rering_after_s=settings.rering_after_s,
            waiting_doorbells=waiting,
        )
        session.commit()
    rung = broker.ring_and_mark(report.requeued + report.to_ring)
    counts = {
        "requeued": len(report.requeued),
        "failed": len(report.failed),
        "cancelled": len(report.cancelled),
        "rung": len(rung),
        "purged": purge_expired_jobs(),
    }
    if any(counts.values()):
        log.info("reaper: %s", ", ".join(f"{name} {count}" for name, count in counts.items()))
    return counts


def run_forever(stop: threading.Event) -> None:
    """Reap every ``SOLVENT_REAPER_INTERVAL_S`` until ``stop`` is set; a failed pass is retried next time."""
    interval = get_settings().reaper_interval_s
    while not stop.wait(interval):
        try:
            reap_once()
        except Exception as exc:
            log.warning("reaper pass failed: %s", exc)
