"""build_result: what a solve's outcome becomes (status, result, error), with the check run on the side."""

from __future__ import annotations

from typing import Any

from workers.runner import Outcome
from workers.tasks import build_result


def _checked_by_fake(solution: dict[str, Any]) -> Outcome:
    """What the check process answers for the fake kind: the solution's objective is ``reached``."""
    reached = solution["reached"]
    verification = {"t": "verification", "feasible": True, "objective": float(reached), "max_violation": 0.0}
    return Outcome(result={**verification, "checked_by": "fake.check", "message": ""})


def _never_called(solution: dict[str, Any]) -> Outcome:
    raise AssertionError(f"nothing to check, yet the check ran on {solution}")


def _solver_result(status: str, termination: str, objective: float | None, solution: Any) -> Outcome:
    result = {"t": "result", "status": status, "termination": termination, "objective": objective}
    return Outcome(result={**result, "bound": None, "solution": solution, "stats": {}})


def test_optimal_or_feasible_without_a_solution_fails_the_job() -> None:
    for status in ("optimal", "feasible"):
        outcome = _solver_result(status, "optimal" if status == "optimal" else "time_limit", 7.0, None)
        job_status, result, error = build_result("fake", outcome, _never_called)
        assert job_status == "failed" and result is None, (status, result)
        assert error is not None and error["code"] == "verification_failed"
        assert "no solution" in error["message"]


def test_an_infeasible_claim_is_stored_marked_unverified() -> None:
    outcome = _solver_result("infeasible", "infeasible", None, None)
    job_status, result, error = build_result("fake", outcome, _never_called)
    assert job_status == "succeeded" and error is None
    assert result is not None
    assert result["verification"]["verified"] is False
    assert "not verified" in result["verification"]["message"]


def test_a_checked_solution_is_marked_verified() -> None:
    outcome = _solver_result("optimal", "optimal", 3.0, {"reached": 3})
    job_status, result, _ = build_result("fake", outcome, _checked_by_fake)
    assert job_status == "succeeded" and result is not None
    assert result["verification"]["verified"] is True and result["verification"]["feasible"] is True


def test_a_cancelled_job_keeps_its_best_objective_with_its_own_solution() -> None:
    # Incumbents (20, S) then (41, no solution): the stored answer is 20 with S, not 41 with S.
    outcome = Outcome(cancelled=True)
    outcome.record({"t": "incumbent", "objective": 20.0, "solution": {"reached": 20}})
    outcome.record({"t": "incumbent", "objective": 41.0, "solution": None})
    job_status, result, error = build_result("fake", outcome, _checked_by_fake)
    assert error is None and job_status == "cancelled"
    assert result is not None
    assert result["objective"] == 20.0 and result["solution"] == {"reached": 20}
    assert result["verification"]["objective"] == 20.0


def test_a_check_that_runs_out_of_memory_fails_the_job_with_memory_limit() -> None:
    def out_of_memory(solution: dict[str, Any]) -> Outcome:
        return Outcome(error={"code": "memory_limit", "message": "the check ran out of its memory limit"})

    outcome = _solver_result("optimal", "optimal", 3.0, {"reached": 3})
    job_status, result, error = build_result("fake", outcome, out_of_memory)
    assert job_status == "failed" and result is None
    assert error is not None and error["code"] == "memory_limit"
