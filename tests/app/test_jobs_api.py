"""The jobs API against real PostgreSQL, Redis and a Celery worker process."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import Api, mps_instance, wait_for

pytestmark = pytest.mark.usefixtures("worker")


def test_flugpl_is_solved_optimally_and_verified(api: Api) -> None:
    job = api.submit("milp", mps_instance("flugpl.mps"), options={"time_limit_s": 60})
    assert job["status"] == "queued"
    assert job["links"]["result"] == f"/v1/jobs/{job['id']}/result"
    done = api.wait(job["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1 and done["started_at"] and done["finished_at"]
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["status"] == "optimal" and result["termination"] == "optimal"
    assert result["objective"] == pytest.approx(1201500, rel=1e-9)
    assert result["verification"]["feasible"] is True
    assert result["verification"]["objective"] == pytest.approx(1201500, rel=1e-9)
    assert result["gap"] == pytest.approx(0, abs=1e-4)
    assert set(result["solution"]["values"]) >= {"STM1", "ANM1", "UE1"}


def test_submit_answers_202_with_location(api: Api) -> None:
    response = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": {"steps": 1, "seconds": 0}})
    assert response.status_code == 202
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"


def test_progress_events_in_order_and_final_status(api: Api) -> None:
    job = api.submit("fake", {"steps": 4, "seconds": 0.05})
    api.wait(job["id"])
    events = api.request("GET", f"/v1/jobs/{job['id']}/events").json()["items"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    types = [e["type"] for e in events]
    assert types[0] == "status" and events[0]["data"]["status"] == "queued"
    assert types.count("incumbent") == 4 and "bound" in types
    assert events[-1]["data"]["status"] == "succeeded"
    later = api.request("GET", f"/v1/jobs/{job['id']}/events", params={"after": seqs[2]}).json()["items"]
    assert [e["seq"] for e in later] == seqs[3:]


def test_sse_stream_replays_and_ends_with_the_job(api: Api) -> None:
    job = api.submit("fake", {"steps": 3, "seconds": 0.2})
    with api.client.stream("GET", f"/v1/jobs/{job['id']}/events/stream", headers=api.headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        data = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    assert [d["type"] for d in data].count("incumbent") == 3
    assert data[-1]["type"] == "status" and data[-1]["data"]["status"] == "succeeded"


def test_idempotency_key_returns_the_original_job(api: Api) -> None:
    body = {"kind": "fake", "instance": {"steps": 1, "seconds": 0}}
    headers = {"Idempotency-Key": "order-42"}
    first = api.request("POST", "/v1/jobs", json=body, headers=headers)
    again = api.request("POST", "/v1/jobs", json=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    different = api.request("POST", "/v1/jobs", json={**body, "priority": 3}, headers=headers)
    assert different.status_code == 409
    assert different.headers["content-type"] == "application/problem+json"


def test_list_pages_newest_first_with_stable_cursor(api: Api) -> None:
    ids = [api.submit("fake", {"steps": 0, "seconds": 0})["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "kind": "fake"}
        if cursor:
            params["cursor"] = cursor
        page = api.request("GET", "/v1/jobs", params=params).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    bad = api.request("GET", "/v1/jobs", params={"cursor": "!!notacursor"})
    assert bad.status_code == 422


def test_result_before_finish_is_409_and_cancel_running_keeps_incumbent(api: Api) -> None:
    job = api.submit("fake", {"steps": 200, "seconds": 0.1})
    api.wait(job["id"], statuses=("running",))
    wait_for(lambda: (api.job(job["id"])["progress"] or {}).get("objective"), 20, what="an incumbent")
    early = api.request("GET", f"/v1/jobs/{job['id']}/result")
    assert early.status_code == 409
    cancel = api.request("POST", f"/v1/jobs/{job['id']}/cancel")
    assert cancel.status_code == 202
    done = api.wait(job["id"], timeout=15)
    assert done["status"] == "cancelled"
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["termination"] == "cancelled" and result["status"] == "feasible"
    assert result["objective"] >= 1 and result["verification"]["feasible"] is True
    again = api.request("POST", f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409


def test_cancel_of_queued_job_means_it_never_starts(api: Api) -> None:
    # Occupy the worker's slots with this tenant's jobs so the next one stays queued.
    blockers = [api.submit("fake", {"steps": 30, "seconds": 0.1}) for _ in range(2)]
    queued = api.submit("fake", {"steps": 1, "seconds": 0}, priority=-10)
    response = api.request("POST", f"/v1/jobs/{queued['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    for blocker in blockers:
        api.request("POST", f"/v1/jobs/{blocker['id']}/cancel")
    for blocker in blockers:
        api.wait(blocker["id"])
    final = api.job(queued["id"])
    assert final["status"] == "cancelled" and final["started_at"] is None and final["attempts"] == 0
    assert api.request("GET", f"/v1/jobs/{queued['id']}/result").status_code == 409


def test_delete_removes_job_result_and_events(api: Api) -> None:
    job = api.submit("fake", {"steps": 1, "seconds": 0})
    api.wait(job["id"])
    assert api.request("DELETE", f"/v1/jobs/{job['id']}").status_code == 204
    assert api.request("GET", f"/v1/jobs/{job['id']}").status_code == 404
    assert api.request("GET", f"/v1/jobs/{job['id']}/events").status_code == 404


def test_wrong_answer_fails_verification_instead_of_being_served(api: Api) -> None:
    job = api.submit("fake", {"steps": 2, "seconds": 0, "mode": "wrong"})
    done = api.wait(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "verification_failed"
    assert api.request("GET", f"/v1/jobs/{job['id']}/result").status_code == 409


def test_crashing_solver_fails_the_job_not_the_worker(api: Api) -> None:
    crashed = api.submit("fake", {"steps": 1, "mode": "crash"})
    assert api.wait(crashed["id"])["error"]["code"] == "solver_error"
    after = api.submit("fake", {"steps": 1, "seconds": 0})
    assert api.wait(after["id"])["status"] == "succeeded"


def test_priority_orders_queued_jobs_of_a_tenant(api: Api) -> None:
    blockers = [api.submit("fake", {"steps": 10, "seconds": 0.1}) for _ in range(2)]
    low = api.submit("fake", {"steps": 0, "seconds": 0}, priority=-5)
    high = api.submit("fake", {"steps": 0, "seconds": 0}, priority=5)
    for job in (*blockers, low, high):
        api.wait(job["id"])
    assert api.job(high["id"])["started_at"] <= api.job(low["id"])["started_at"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("GET", "/result"),
        ("GET", "/result.svg"),
        ("GET", "/events"),
        ("GET", "/events/stream"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ],
)
def test_another_tenants_job_is_404_on_every_endpoint(api: Api, make_key: Any, method: str, suffix: str) -> None:
    job = api.submit("fake", {"steps": 1, "seconds": 0})
    api.wait(job["id"])
    intruder = Api(api.client, make_key(None))
    foreign = intruder.request(method, f"/v1/jobs/{job['id']}{suffix}")
    unknown = intruder.request(method, f"/v1/jobs/{uuid.uuid4()}{suffix}")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"] == f"No job {job['id']}."
    assert job["id"] not in [j["id"] for j in intruder.request("GET", "/v1/jobs").json()["items"]]
    assert api.job(job["id"])["status"] == "succeeded"  # untouched by the intruder


def test_a_down_broker_leaves_the_accepted_job_queued_for_the_reaper(api: Api, monkeypatch: Any) -> None:
    from app.db import Job, get_sessionmaker
    from app.settings import get_settings

    monkeypatch.setattr(get_settings(), "broker_url", "redis://127.0.0.1:1/0")  # nothing listens there
    job = api.submit("fake", {"steps": 1})

    def left_for_the_reaper() -> bool:  # the ringer tried after the answer, gave up and marked it unrung
        with get_sessionmaker()() as session:
            stored = session.get(Job, uuid.UUID(job["id"]))
            assert stored is not None  # accepted
            return stored.rung_at is None

    wait_for(left_for_the_reaper, 30, interval=0.05, what="the failed doorbell to be marked unrung")
    monkeypatch.undo()
    assert api.wait(job["id"])["status"] == "succeeded"
