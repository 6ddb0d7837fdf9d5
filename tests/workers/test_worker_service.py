"""A real worker: verification within the lease and within limits, and the server-side cap on threads."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def _result(api: Api, job_id: str) -> dict[str, Any]:
    response = api.request("GET", f"/v1/jobs/{job_id}/result")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_check_longer_than_the_lease_keeps_the_job(api: Api, worker: Any) -> None:
    job = api.submit("fake", {"steps": 2, "seconds": 0, "check_seconds": 10})  # the tests' lease is 6 s
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] == 1, done
    assert _result(api, job["id"])["verification"]["feasible"] is True


def test_a_check_that_blows_its_memory_limit_fails_the_job_not_the_worker(api: Api, worker: Any) -> None:
    hog = api.submit("fake", {"steps": 1, "seconds": 0, "check": "hungry"})
    failed = api.wait(hog["id"], timeout=60)
    assert failed["status"] == "failed" and failed["error"]["code"] == "memory_limit", failed
    assert worker.poll() is None
    after = api.submit("fake", {"steps": 1, "seconds": 0})
    assert api.wait(after["id"])["status"] == "succeeded"


def test_the_server_caps_the_threads_a_job_asks_for(api: Api, worker: Any) -> None:
    greedy = api.submit("fake", {"steps": 1, "seconds": 0}, options={"threads": 64})
    assert api.wait(greedy["id"])["status"] == "succeeded"
    assert _result(api, greedy["id"])["stats"]["threads"] == 4  # SOLVENT_MAX_THREADS_PER_JOB's default
