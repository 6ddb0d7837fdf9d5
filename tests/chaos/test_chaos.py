"""Chaos trials: kill processes and restart servers mid-run; every job must end once with one result.

Bounded in time and count, loopback only. Each trial records its numbers (jobs submitted, killed,
lost, run twice, time to recover) — ``SOLVENT_RELIABILITY_REPORT=FILE`` appends them as JSON lines,
and ``bench/reliability.py`` turns that file into the table of docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app import broker
from app.db import Job, JobEvent, JobResult, get_sessionmaker, utcnow
from solvers.milp.generate import generate
from tests.conftest import Api, settle_jobs, start_worker, stop_process, wait_for

FINAL = ("succeeded", "failed", "cancelled")
PG_VERSION = sorted(os.listdir("/etc/postgresql"))[0] if os.path.isdir("/etc/postgresql") else "15"
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
    "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def ledger(job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per job: status, attempts, stored results and final-status events, straight from the database."""
    ids = [uuid.UUID(j) for j in job_ids]
    with get_sessionmaker()() as session:
        jobs = {str(j.id): j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}
        results = dict(
            session.execute(
                select(JobResult.job_id, func.count()).where(JobResult.job_id.in_(ids)).group_by(JobResult.job_id)
            ).all()
        )
        finals: dict[uuid.UUID, int] = {}
        for event in session.scalars(select(JobEvent).where(JobEvent.job_id.in_(ids), JobEvent.type == "status")):
            if event.data.get("status") in FINAL:
                finals[event.job_id] = finals.get(event.job_id, 0) + 1
    return {
        job_id: {
            "status": jobs[job_id].status if job_id in jobs else "missing",
            "attempts": jobs[job_id].attempts if job_id in jobs else 0,
            "results": results.get(uuid.UUID(job_id), 0),
            "final_events": finals.get(uuid.UUID(job_id), 0),
        }
        for job_id in job_ids
    }


def assert_each_job_ended_once(book: dict[str, dict[str, Any]], expect: str = "succeeded") -> dict[str, int]:
    """Every job final, exactly one final event, exactly one result when succeeded; returns the counts."""
    lost = [j for j, row in book.items() if row["status"] not in FINAL]
    twice = [j for j, row in book.items() if row["results"] > 1 or row["final_events"] > 1]
    assert not lost, f"jobs never finished: {lost}"
    assert not twice, f"jobs finished twice: {twice}"
    for job_id, row in book.items():
        assert row["status"] == expect, (job_id, row)
        if expect == "succeeded":
            assert row["results"] == 1, (job_id, row)
    return {"lost": len(lost), "run_twice": len(twice), "rerun": sum(r["attempts"] > 1 for r in book.values())}


def record(trial: str, **numbers: Any) -> None:
    """Append a trial's numbers to the reliability report, when one is asked for."""
    target = os.environ.get("SOLVENT_RELIABILITY_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"trial": trial, **numbers}) + "\n")


@pytest.fixture
def chaos_worker() -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(concurrency=2)
    wait_for(lambda: _live() > 0, 60, what="a live worker")
    yield process
    settle_jobs(40)
    stop_process(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _live() -> int:
    from app import store

    with get_sessionmaker()() as session:
        return len(store.live_workers(session, 4))


def _solve_processes(worker: subprocess.Popen[bytes], name: str = "solvent-job") -> list[int]:
    """The solve processes (or, with name ``solvent-tmpl``, the templates) under this worker only: other
    test runs on the machine have their own, which a pattern match over every process would kill too."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()

    def under_worker(pid: int) -> bool:
        while pid > 1:
            if pid == worker.pid:
                return True
            pid = parents.get(pid, 0)
        return False

    return [int(p) for p in found if under_worker(int(p))]


def _wait_all(api: Api, job_ids: list[str], timeout: float) -> float:
    start = time.monotonic()
    for job_id in job_ids:
        api.wait(job_id, timeout=max(1.0, timeout - (time.monotonic() - start)))
    return time.monotonic() - start


def test_sigkill_of_solve_processes_reruns_their_jobs_once(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 25, "seconds": 0.1})["id"] for _ in range(4)]
    # Wait until a solve is under way (it has reported an incumbent), then kill every solve process.
    wait_for(lambda: [j for j in jobs if (api.job(j)["progress"] or {}).get("objective")], 60, what="an incumbent")
    victims = _solve_processes(chaos_worker)  # the running solves and the warm spares
    for victim in victims:
        os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    _wait_all(api, jobs, 90)
    book = ledger(jobs)
    numbers = assert_each_job_ended_once(book)
    assert numbers["rerun"] >= 1, (victims, book)
    record(
        "SIGKILL every solve process (running solves and checks)", submitted=len(jobs), killed=len(victims),
        recover_s=round(time.monotonic() - killed_at, 1), **numbers,
    )  # fmt: skip


def test_sigkill_of_the_template_process_reruns_its_job_once(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 25, "seconds": 0.1})["id"] for _ in range(4)]
    wait_for(lambda: [j for j in jobs if (api.job(j)["progress"] or {}).get("objective")], 60, what="an incumbent")
    templates = _solve_processes(chaos_worker, "solvent-tmpl")  # their running children die with them
    assert templates
    for template in templates:
        os.kill(template, signal.SIGKILL)
    killed_at = time.monotonic()
    _wait_all(api, jobs, 120)
    book = ledger(jobs)
    numbers = assert_each_job_ended_once(book)
    assert numbers["rerun"] >= 1, (templates, book)
    record(
        "SIGKILL every template process (their running solves die with them)", submitted=len(jobs),
        killed=len(templates), recover_s=round(time.monotonic() - killed_at, 1), **numbers,
    )  # fmt: skip


def test_sigkill_of_worker_pool_process_mid_solve(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 25, "seconds": 0.1})["id"] for _ in range(4)]
    running = wait_for(lambda: [j for j in jobs if api.job(j)["status"] == "running"], 30, what="a running job")
    with get_sessionmaker()() as session:
        owner = session.get(Job, uuid.UUID(running[0])).worker  # "host:pid" of the pool process
    pool_pid = int(owner.rsplit(":", 1)[1])
    os.kill(pool_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    _wait_all(api, jobs, 120)
    numbers = assert_each_job_ended_once(ledger(jobs))
    assert ledger([running[0]])[running[0]]["attempts"] == 2
    record(
        "SIGKILL a worker pool process",
        submitted=len(jobs),
        killed=1,
        recover_s=round(time.monotonic() - killed_at, 1),
        **numbers,
    )


def test_sigkill_of_worker_main_process_then_replacement(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 20, "seconds": 0.1})["id"] for _ in range(5)]
    wait_for(lambda: [j for j in jobs if api.job(j)["status"] == "running"], 30, what="a running job")
    os.kill(chaos_worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    replacement = start_worker(concurrency=2)
    try:
        _wait_all(api, jobs, 150)
        numbers = assert_each_job_ended_once(ledger(jobs))
        record(
            "SIGKILL the worker main process",
            submitted=len(jobs),
            killed=1,
            recover_s=round(time.monotonic() - killed_at, 1),
            **numbers,
        )
    finally:
        settle_jobs(40)
        stop_process(replacement)


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode == 0


def test_redis_restart_loses_no_job(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 10, "seconds": 0.2})["id"] for _ in range(6)]
    wait_for(lambda: [j for j in jobs if api.job(j)["status"] == "running"], 30, what="a running job")
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
    wait_for(lambda: not _redis_up(), 10, what="Redis to stop")
    try:
        during = [api.submit("fake", {"steps": 2, "seconds": 0.1})["id"] for _ in range(2)]  # durable in Postgres
    finally:
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(REDIS_START, check=True)
        wait_for(_redis_up, 20, what="Redis to start")
    restarted_at = time.monotonic()
    _wait_all(api, jobs + during, 120)
    numbers = assert_each_job_ended_once(ledger(jobs + during))
    record(
        "restart Redis (no persistence) mid-run", submitted=len(jobs) + len(during), killed=1,
        recover_s=round(time.monotonic() - restarted_at, 1), **numbers,
    )  # fmt: skip


def _postgres(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", action], check=True, capture_output=True
    )


def test_postgres_restart_answers_503_and_recovers(api: Api, chaos_worker: Any) -> None:
    jobs = [api.submit("fake", {"steps": 30, "seconds": 0.1})["id"] for _ in range(4)]
    wait_for(lambda: [j for j in jobs if api.job(j)["status"] == "running"], 30, what="a running job")
    _postgres("stop")
    try:
        down = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": {"steps": 1}})
        assert down.status_code == 503, down.text
        assert int(down.headers["retry-after"]) >= 1
        assert api.client.get("/health/ready").status_code == 503
        time.sleep(3)
    finally:
        _postgres("start")
    restarted_at = time.monotonic()
    body = {"kind": "fake", "instance": {"steps": 1}}
    after = wait_for(
        lambda: (r := api.request("POST", "/v1/jobs", json=body)).status_code == 202 and r,
        30, what="the API to accept jobs again",
    )  # fmt: skip
    _wait_all(api, [*jobs, after.json()["id"]], 120)
    numbers = assert_each_job_ended_once(ledger([*jobs, after.json()["id"]]))
    record(
        "stop PostgreSQL 3 s mid-run", submitted=len(jobs) + 2, killed=1, rejected_503=1,
        recover_s=round(time.monotonic() - restarted_at, 1), **numbers,
    )  # fmt: skip


def test_time_limit_holds_on_a_hard_milp_and_on_a_solver_that_ignores_it(api: Api, chaos_worker: Any) -> None:
    hard = generate(7, "set_cover", rows=1200, columns=2400, density=0.02)
    job = api.submit("milp", hard, solver="highs", options={"time_limit_s": 3})
    stubborn = api.submit("fake", {"steps": 1000, "seconds": 0.1, "mode": "ignore_limit"}, options={"time_limit_s": 3})
    done = api.wait(job["id"], timeout=60)
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert done["status"] == "succeeded" and result["termination"] == "time_limit", result
    assert result["stats"]["wall_time_s"] < 3 + 5
    if result["solution"] is not None:
        assert result["verification"]["feasible"] is True
    killed = api.wait(stubborn["id"], timeout=60)
    killed_result = api.request("GET", f"/v1/jobs/{stubborn['id']}/result").json()
    assert killed["status"] == "succeeded" and killed_result["termination"] == "time_limit"
    assert killed_result["stats"]["stopped_by"] == "watchdog"
    assert killed_result["stats"]["wall_time_s"] < 3 + 5 + 3 + 2  # limit + slack + grace + start-up
    assert killed_result["verification"]["feasible"] is True  # best incumbent kept
    record(
        "3 s time limit (hard MILP; solver ignoring it)", submitted=2, killed=1, lost=0, run_twice=0, rerun=0,
        wall_s=f"{result['stats']['wall_time_s']:.1f} / {killed_result['stats']['wall_time_s']:.1f}",
    )  # fmt: skip


def test_memory_hungry_solve_fails_with_memory_limit_and_worker_survives(api: Api, chaos_worker: Any) -> None:
    hog = api.submit("fake", {"steps": 1, "mode": "memory"})
    done = api.wait(hog["id"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "memory_limit", done
    after = api.submit("fake", {"steps": 1, "seconds": 0})
    assert api.wait(after["id"])["status"] == "succeeded"
    assert chaos_worker.poll() is None
    record("memory-hungry solve (1.5 GiB limit)", submitted=2, killed=0, lost=0, run_twice=0, rerun=0)


def test_cancel_of_a_solver_that_ignores_it_is_hard_killed_keeping_incumbent(api: Api, chaos_worker: Any) -> None:
    job = api.submit("fake", {"steps": 1000, "seconds": 0.1, "mode": "ignore_cancel"})
    wait_for(lambda: (api.job(job["id"])["progress"] or {}).get("objective"), 30, what="an incumbent")
    asked = time.monotonic()
    assert api.request("POST", f"/v1/jobs/{job['id']}/cancel").status_code == 202
    done = api.wait(job["id"], timeout=30)
    stopped_after = time.monotonic() - asked
    assert done["status"] == "cancelled"
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["termination"] == "cancelled" and result["verification"]["feasible"] is True
    assert stopped_after < 2 + 3 + 3  # heartbeat + grace + polling
    record(
        "cancel a solver that ignores cancel",
        submitted=1,
        killed=1,
        lost=0,
        run_twice=0,
        rerun=0,
        stop_s=round(stopped_after, 1),
    )


def test_a_check_longer_than_the_lease_and_one_over_its_memory_limit(api: Api, chaos_worker: Any) -> None:
    slow = api.submit("fake", {"steps": 2, "seconds": 0, "check_seconds": 10})["id"]  # the lease is 6 s
    hungry = api.submit("fake", {"steps": 2, "seconds": 0, "check": "hungry"})["id"]
    started = time.monotonic()
    _wait_all(api, [slow, hungry], 90)
    book = ledger([slow, hungry])
    assert book[slow]["status"] == "succeeded" and book[slow]["attempts"] == 1, book
    assert api.job(hungry)["error"]["code"] == "memory_limit", api.job(hungry)
    assert all(row["final_events"] == 1 for row in book.values()), book
    assert chaos_worker.poll() is None
    record(
        "a 10 s check (lease 6 s) and a check over its memory limit", submitted=2, killed=0, lost=0, run_twice=0,
        rerun=0, ended="succeeded / failed memory_limit", wall_s=round(time.monotonic() - started, 1),
    )  # fmt: skip


def test_cancel_then_sigkill_of_the_worker_ends_cancelled(api: Api, chaos_worker: Any) -> None:
    job = api.submit("fake", {"steps": 600, "seconds": 0.1})["id"]
    wait_for(lambda: (api.job(job)["progress"] or {}).get("objective"), 60, what="an incumbent")
    assert api.request("POST", f"/v1/jobs/{job}/cancel").status_code == 202
    os.killpg(chaos_worker.pid, signal.SIGKILL)  # main and pool processes; the solve follows (PDEATHSIG)
    killed_at = time.monotonic()
    replacement = start_worker(concurrency=2)
    try:
        done = api.wait(job, timeout=60)
        assert done["status"] == "cancelled" and done["attempts"] == 1, done
        book = ledger([job])
        assert book[job]["final_events"] == 1, book
        record(
            "cancel a running job, then SIGKILL its worker", submitted=1, killed=1, lost=0, run_twice=0, rerun=0,
            recover_s=round(time.monotonic() - killed_at, 1), ended="cancelled, 1 attempt",
        )  # fmt: skip
    finally:
        settle_jobs(40)
        stop_process(replacement)


def test_a_backlog_gets_no_extra_doorbells(api: Api, chaos_worker: Any) -> None:
    busy = [api.submit("fake", {"steps": 150, "seconds": 0.1})["id"] for _ in range(2)]
    wait_for(lambda: all(api.job(j)["status"] == "running" for j in busy), 30, what="both pool processes busy")
    queued = [api.submit("fake", {"steps": 1, "seconds": 0})["id"] for _ in range(5)]
    long_ago = utcnow() - timedelta(minutes=10)  # older than SOLVENT_RERING_AFTER_S
    with get_sessionmaker()() as session:
        session.execute(update(Job).where(Job.id.in_(queued)).values(created_at=long_ago, rung_at=long_ago))
        session.commit()
    before = broker.waiting_doorbells()
    time.sleep(7)  # three reaper passes (every 2 s)
    after = broker.waiting_doorbells()
    assert all(api.job(j)["status"] == "running" for j in busy)
    assert before is not None and after == before, (before, after)
    _wait_all(api, busy + queued, 90)
    numbers = assert_each_job_ended_once(ledger(busy + queued))
    record(
        "backlog: 5 jobs queued behind 2 busy pool processes, 3 reaper passes", submitted=7, killed=0,
        doorbells=f"{before} -> {after}", **numbers,
    )  # fmt: skip


def test_one_tenants_backlog_does_not_hold_every_worker(
    api: Api, chaos_worker: Any, make_key: Callable[[str | None], str]
) -> None:
    other = Api(api.client, make_key(None))
    backlog = [api.submit("fake", {"steps": 40, "seconds": 0.1})["id"] for _ in range(6)]  # about 4 s each
    wait_for(lambda: api.job(backlog[0])["status"] == "running", 30, what="the backlog to start")
    late = other.submit("fake", {"steps": 1, "seconds": 0})["id"]
    _wait_all(api, backlog, 120)
    other.wait(late, timeout=60)
    numbers = assert_each_job_ended_once(ledger([*backlog, late]))
    with get_sessionmaker()() as session:
        started = {str(j.id): j.started_at for j in session.scalars(select(Job).where(Job.id.in_([*backlog, late])))}
        created = session.get(Job, uuid.UUID(late)).created_at
    ahead = sum(started[j] < started[late] for j in backlog)
    assert ahead < len(backlog), "the other tenant's job waited for the whole backlog"
    record(
        "fair share: 6 jobs of one tenant, then 1 of another (2 pool processes)", submitted=7, killed=0,
        backlog_started_first=f"{ahead} of 6", waited_s=round((started[late] - created).total_seconds(), 1), **numbers,
    )  # fmt: skip


def test_recycled_pool_processes_lose_no_job(api: Api) -> None:
    recycling = start_worker(
        extra_env={"SOLVENT_WORKER_HEARTBEAT_S": "0.01"}, concurrency=2, arguments=["--max-tasks-per-child", "1"]
    )
    try:
        wait_for(lambda: _live() > 0, 60, what="a live worker")
        jobs = [api.submit("fake", {"steps": 3, "seconds": 0.1})["id"] for _ in range(6)]
        started = time.monotonic()
        _wait_all(api, jobs, 120)
        numbers = assert_each_job_ended_once(ledger(jobs))
        with get_sessionmaker()() as session:
            pool_processes = {j.worker for j in session.scalars(select(Job).where(Job.id.in_(jobs)))}
        assert len(pool_processes) == len(jobs)
        record(
            "a pool process per job (max tasks per child 1; main process beats 100/s)", submitted=len(jobs),
            killed=0, recover_s=round(time.monotonic() - started, 1), **numbers,
        )  # fmt: skip
    finally:
        settle_jobs(40)
        stop_process(recycling)


def test_health_ready_fails_without_workers(client: Any) -> None:
    wait_for(lambda: _live() == 0, 15, what="no live worker")
    response = client.get("/health/ready")
    assert response.status_code == 503 and response.json()["checks"]["workers"] == "none alive"
