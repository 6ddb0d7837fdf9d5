"""The reaper's retention pass: delete expired finished jobs in bounded batches, one transaction each."""

from __future__ import annotations

import logging

from app.db import get_sessionmaker
from app.retention import purge_expired_batch
from app.settings import get_settings

log = logging.getLogger("solvent.worker")


def purge_expired_jobs() -> int:
    """Delete up to ``retention_max_batches`` batches of expired jobs; how many were deleted.

    Short transactions keep row locks brief; what is left over goes in the next reaper pass.
    """
    settings = get_settings()
    total = 0
    for _ in range(settings.retention_max_batches):
        with get_sessionmaker()() as session:
            deleted = purge_expired_batch(
                session, default_ttl_s=settings.job_ttl_s, batch_size=settings.retention_batch_size
            )
            session.commit()
        total += deleted
        if deleted < settings.retention_batch_size:
            break
    if total:
        log.info("retention: deleted %d expired jobs", total)
    return total
