"""The reaper against the real broker: it rings again only the doorbells that were lost (no worker runs here)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app import broker
from app.db import Job, get_sessionmaker, utcnow
from app.settings import get_settings
from tests.conftest import Api
from workers.reaper import reap_once


def _purge_doorbells() -> None:
    with broker.get_sender().connection_for_write() as connection:
        connection.default_channel.queue_purge(get_settings().queue_name)


def _backdate(job_ids: list[str]) -> None:
    """As if the jobs had waited in the queue for ten minutes, longer than SOLVENT_RERING_AFTER_S."""
    long_ago = utcnow() - timedelta(minutes=10)
    with get_sessionmaker()() as session:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(created_at=long_ago, rung_at=long_ago))
        session.commit()


def _cancel_queued() -> None:
    with get_sessionmaker()() as session:
        session.execute(update(Job).where(Job.status == "queued").values(status="cancelled", finished_at=utcnow()))
        session.commit()


def test_queued_jobs_whose_doorbells_wait_are_not_rung_again_but_lost_ones_are(api: Api) -> None:
    _cancel_queued()
    _purge_doorbells()
    jobs = [api.submit("fake", {"steps": 1})["id"] for _ in range(3)]
    _backdate(jobs)
    assert broker.waiting_doorbells() == 3
    for _ in range(3):  # a backlog: the doorbells wait in Redis while the reaper passes
        assert reap_once()["rung"] == 0
    assert broker.waiting_doorbells() == 3
    _purge_doorbells()  # Redis restarts without persistence: the doorbells are lost
    assert reap_once()["rung"] == 3
    assert broker.waiting_doorbells() == 3
    _purge_doorbells()
    _cancel_queued()
