"""The worker's task ``run_job``: claim, solve in a child, verify in another, fenced finish."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from app import broker, store
from app.db import JobStatus, get_sessionmaker
from app.settings import get_settings
from solvers.base import relative_gap
from workers.celery_app import task
from workers.runner import CheckSpec, Outcome, SolveSpec, Supervisor, check_in_child, run_in_child

log = logging.getLogger("solvent.worker")
T = TypeVar("T")
OBJECTIVE_TOLERANCE = 1e-6
# Pending messages are written at most this often between heartbeats (and not before the attempt is this
# old): a watcher sees progress within about half a second, a chatty solver costs at most two writes a
# second, and a job that ends sooner writes its events once, with its result.
PROGRESS_WRITE_EVERY_S = 0.5


def with_db_retry(action: Callable[[Session], T], attempts: int = 8) -> T:
    """Run ``action`` in its own transaction, retrying with backoff while the database is unreachable."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            with get_sessionmaker()() as session:
                value = action(session)
                session.commit()
                return value
        except (OperationalError, InterfaceError) as exc:
            if attempt == attempts - 1:
                raise
            log.warning("database unreachable (%s); retrying in %.1fs", type(exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    raise AssertionError("unreachable")


def worker_name() -> str:
    """This worker's name in job rows and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DatabaseSupervisor(Supervisor):
    """Writes the child's messages as events (batched, see PROGRESS_WRITE_EVERY_S) and renews the lease of one
    attempt."""

    def __init__(self, job_id: uuid.UUID, attempt: int) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.pending: list[dict[str, Any]] = []
        self.progress: dict[str, Any] = {"elapsed_s": 0.0, "objective": None, "bound": None, "gap": None}
        self.started = time.monotonic()
        self.written_at = self.started
        self.lease_s = get_settings().lease_s

    def on_message(self, message: dict[str, Any]) -> None:
        kind = message["t"]
        if kind == "incumbent":
            self.progress["objective"] = message.get("objective")
            self.pending.append(
                {
                    "type": "incumbent",
                    "data": {"objective": message.get("objective"), "elapsed_s": message.get("elapsed_s")},
                }
            )
        elif kind == "bound":
            self.progress["bound"] = message.get("bound")
            self.pending.append(
                {
                    "type": "bound",
                    "data": {"bound": message.get("bound"), "elapsed_s": message.get("elapsed_s")},
                }
            )
        elif kind == "log":
            self.progress["message"] = message.get("message")
            self.pending.append({"type": "log", "data": {"message": message.get("message")}})
        if len(self.pending) >= 200 or time.monotonic() - self.written_at >= PROGRESS_WRITE_EVERY_S:
            self.flush()

    def take_pending(self) -> Callable[[Session], bool]:
        """A writer of the events pending now and the progress snapshot, for a transaction (its own or the
        job's last); it returns False if the attempt is no longer ours. The events are taken once, so a
        retried transaction writes them again, not lost."""
        self.written_at = time.monotonic()
        self.progress["elapsed_s"] = round(time.monotonic() - self.started, 3)
        self.progress["gap"] = relative_gap(self.progress["objective"], self.progress["bound"])
        events, self.pending = self.pending, []
        snapshot = dict(self.progress)

        def write(session: Session) -> bool:
            if not store.set_progress(session, self.job_id, self.attempt, snapshot):
                return False
            for event in events:
                store.add_event(session, self.job_id, event["type"], event["data"])
            return True

        return write

    def flush(self) -> bool:
        """Write pending events and the progress snapshot; False if the attempt is no longer ours."""
        return with_db_retry(self.take_pending())

    def heartbeat(self) -> tuple[bool, bool]:
        if not self.flush():
            return False, False
        return with_db_retry(lambda s: store.renew_lease(s, self.job_id, self.attempt, self.lease_s))


class AttemptLost(Exception):
    """The attempt's lease was taken over (or the job deleted) while it was being verified."""


def build_result(
    kind_name: str, outcome: Outcome, verify: Callable[[dict[str, Any]], Outcome]
) -> tuple[JobStatus, dict[str, Any] | None, dict[str, Any] | None]:
    """The job's final (status, result, error) from the solve's outcome; ``verify`` runs the kind's check()
    on the solution (in a limited child process, see ``check_in_child``).

    A claim of a solution (``optimal``/``feasible``) without one fails the job; a result without a
    solution (``infeasible``, ``unbounded``, ``no_solution``) is stored with ``verified: false``.
    """
    if outcome.result is not None:
        result: dict[str, Any] = {
            key: outcome.result.get(key) for key in ("status", "termination", "objective", "bound", "solution")
        }
        stats: dict[str, Any] = {**(outcome.result.get("stats") or {}), "wall_time_s": outcome.wall_time_s}
        if outcome.timed_out and result["termination"] == "cancelled":
            # The watchdog asked it to stop because its time was up, not the client.
            result["termination"] = "time_limit"
            stats["stopped_by"] = "watchdog"
        result["stats"] = stats
    elif outcome.cancelled or outcome.timed_out:
        # Killed before it answered: keep its best incumbent (objective and solution are one pair).
        has_solution = outcome.best_solution is not None
        result = {
            "status": "feasible" if has_solution else "no_solution",
            "termination": "cancelled" if outcome.cancelled else "time_limit",
            "objective": outcome.best_objective if has_solution else None,
            "bound": outcome.best_bound,
            "solution": outcome.best_solution,
            "stats": {"wall_time_s": outcome.wall_time_s, "stopped_by": "watchdog"},
        }
    else:
        error = outcome.error or {"code": "solver_error", "message": "no result"}
        return JobStatus.FAILED, None, error
    result["gap"] = relative_gap(result["objective"], result["bound"])
    if result["solution"] is None:
        if result["status"] in ("optimal", "feasible"):
            message = f"the solver claimed a {result['status']} answer but returned no solution to verify"
            return JobStatus.FAILED, None, {"code": "verification_failed", "message": message}
        result["verification"] = {
            "verified": False,
            "feasible": False,
            "objective": None,
            "max_violation": None,
            "checked_by": None,
            "message": f"not verified: the solver reports {result['status']} and returned no solution to check",
        }
    else:
        checked = verify(result["solution"])
        if checked.lost:
            raise AttemptLost
        if checked.result is None:
            return JobStatus.FAILED, None, _check_error(checked)
        verification = {key: value for key, value in checked.result.items() if key != "t"}
        verification["checked_by"] = verification.get("checked_by") or f"{kind_name}.check"
        verification["verified"] = True
        result["verification"] = verification
        problem = _verification_problem(result, verification)
        if problem:
            return JobStatus.FAILED, None, {"code": "verification_failed", "message": problem}
    cancelled = outcome.cancelled and result["termination"] == "cancelled"
    status = JobStatus.CANCELLED if cancelled else JobStatus.SUCCEEDED
    return status, result, None


def _check_error(checked: Outcome) -> dict[str, str]:
    """Why the check process gave no verification: its limits, or a failure of the check itself."""
    error = checked.error or {"code": "solver_error", "message": "no verification"}
    if error["code"] == "memory_limit":
        return {"code": "memory_limit", "message": "the independent check of the solution ran out of its memory limit"}
    if checked.timed_out:
        message = f"the independent check of the solution did not finish within {checked.wall_time_s:.0f} s"
        return {"code": "time_limit", "message": message}
    return {"code": "verification_failed", "message": f"the independent check failed: {error['message']}"}


def _verification_problem(result: dict[str, Any], verification: dict[str, Any]) -> str | None:
    if result["status"] in ("optimal", "feasible") and not verification["feasible"]:
        return f"the solver's answer failed independent verification: {verification.get('message') or 'infeasible'}"
    claimed, checked = result.get("objective"), verification.get("objective")
    if not isinstance(claimed, (int, float)) or not isinstance(checked, (int, float)) or not math.isfinite(checked):
        return None
    if abs(claimed - checked) > OBJECTIVE_TOLERANCE * max(1.0, abs(checked)):
        return f"the solver reported objective {claimed} but the solution's objective is {checked}"
    return None


@task(broker.RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: str) -> None:
    """Claim a queued job of the doorbell's group, solve it in a child process and store the outcome."""
    settings = get_settings()
    claim = with_db_retry(lambda s: store.claim_job(s, uuid.UUID(job_id), worker_name(), settings.lease_s))
    if claim is None:
        return
    log.info("job %s attempt %d: %s/%s", claim.job_id, claim.attempt, claim.kind, claim.solver)
    options = dict(claim.options)
    if "threads" in options:  # a job may not take more cores than the operator allows
        options["threads"] = max(1, min(int(options["threads"]), settings.max_threads_per_job))
    spec = SolveSpec(
        kind=claim.kind,
        solver=claim.solver,
        options=options,
        instance_json=claim.instance_json,
        time_limit_s=float(claim.options.get("time_limit_s", settings.default_time_limit_s)),
        memory_limit_mb=settings.job_memory_limit_mb,
        kill_grace_s=settings.kill_grace_s,
    )
    supervisor = DatabaseSupervisor(claim.job_id, claim.attempt)
    outcome = run_in_child(spec, supervisor)
    if outcome.lost:
        log.warning("job %s attempt %d is no longer ours; dropping its outcome", claim.job_id, claim.attempt)
        return
    if outcome.error is not None and outcome.error["code"] == "killed":
        # Killed from outside (OOM killer, an operator): run it again, up to max_attempts.
        reason = outcome.error["message"]
        write_pending = supervisor.take_pending()
        new_status = with_db_retry(
            lambda s: (
                store.release_job(s, claim.job_id, claim.attempt, max_attempts=settings.max_attempts, reason=reason)
                if write_pending(s)
                else None
            )
        )
        if new_status == JobStatus.QUEUED:
            broker.ring_and_mark([claim.job_id])
        log.warning("job %s attempt %d: %s; now %s", claim.job_id, claim.attempt, reason, new_status)
        return

    def verify(solution: dict[str, Any]) -> Outcome:
        check = CheckSpec(
            kind=claim.kind,
            instance_json=claim.instance_json,
            solution=solution,
            options=options,
            time_limit_s=settings.check_time_limit_s,
            memory_limit_mb=settings.job_memory_limit_mb,
            kill_grace_s=settings.kill_grace_s,
        )
        return check_in_child(check, supervisor)

    try:
        status, result, error = build_result(claim.kind, outcome, verify)
    except AttemptLost:
        log.warning("job %s attempt %d was taken over during verification", claim.job_id, claim.attempt)
        return
    except Exception as exc:  # a malformed answer must fail the job, not the worker
        log.exception("verification of job %s crashed", claim.job_id)
        status, result, error = (
            JobStatus.FAILED,
            None,
            {"code": "verification_failed", "message": f"{type(exc).__name__}: {exc}"},
        )
    if error is not None and outcome.stderr_tail and error["code"] == "solver_error":
        log.warning("job %s solver stderr:\n%s", claim.job_id, outcome.stderr_tail)
    write_pending = supervisor.take_pending()  # the solve's last events go in with the result: one transaction
    finished = with_db_retry(
        lambda s: (
            write_pending(s) and store.finish_job(s, claim.job_id, claim.attempt, status, result=result, error=error)
        )
    )
    log.info("job %s attempt %d finished %s (stored=%s)", claim.job_id, claim.attempt, status, finished)
