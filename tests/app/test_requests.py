"""Request handling: authentication, problem+json errors, limits, kinds, health and metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Api


def test_missing_or_wrong_key_is_401(client: Any) -> None:
    assert client.get("/v1/jobs").status_code == 401
    response = client.get("/v1/jobs", headers={"Authorization": "Bearer slv_deadbeef_nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_revoked_key_is_401(client: Any, make_key: Any) -> None:
    from app.db import get_sessionmaker
    from app.security import revoke_key

    key = make_key(None)
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with get_sessionmaker()() as session:
        assert revoke_key(session, key[:12])
        session.commit()
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_key_revoked_by_another_process_is_refused_once_the_cached_acceptance_expires(
    client: Any, make_key: Any
) -> None:
    import time

    from sqlalchemy import update

    from app.db import ApiKey, get_sessionmaker, utcnow
    from app.settings import get_settings

    settings = get_settings()
    original = settings.api_key_cache_s
    settings.api_key_cache_s = 0.5
    try:
        key = make_key(None)
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/jobs", headers=headers).status_code == 200
        with get_sessionmaker()() as session:  # as `solvent keys revoke` in another process does it
            session.execute(update(ApiKey).where(ApiKey.prefix == key[:12]).values(revoked_at=utcnow()))
            session.commit()
        assert client.get("/v1/jobs", headers=headers).status_code == 200  # within the cache time
        time.sleep(0.6)
        assert client.get("/v1/jobs", headers=headers).status_code == 401
        assert client.get("/v1/jobs", headers=headers).status_code == 401  # a refusal is never cached
    finally:
        settings.api_key_cache_s = original


def test_key_is_stored_only_as_a_keyed_hash(make_key: Any) -> None:
    from sqlalchemy import select

    from app.db import ApiKey, get_sessionmaker
    from app.security import hash_key

    key = make_key(None)
    with get_sessionmaker()() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == key[:12])).one()
    assert key not in (row.key_hash, row.prefix) and row.key_hash == hash_key(key)
    assert hash_key(key) != hash_key(key, secret="another-secret")


def test_invalid_instance_is_422_with_located_errors_and_no_job(api: Api) -> None:
    before = api.request("GET", "/v1/jobs").json()["items"]
    bad = {
        "format": "json",
        "sense": "minimize",
        "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 1, "obj": 1}],
        "constraints": [{"name": "c", "terms": {"y": 1.0}, "lb": None, "ub": 1}],
    }
    response = api.request("POST", "/v1/jobs", json={"kind": "milp", "instance": bad})
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["errors"]
    assert all(e["loc"][0] == "instance" for e in problem["errors"])
    assert api.request("GET", "/v1/jobs").json()["items"] == before


def test_malformed_mps_names_the_line(api: Api) -> None:
    model = "NAME t\nROWS\n N obj\n L c1\nCOLUMNS\n x obj notanumber\nRHS\nENDATA\n"
    response = api.request("POST", "/v1/jobs", json={"kind": "milp", "instance": {"format": "mps", "model": model}})
    assert response.status_code == 422
    assert "6" in json.dumps(response.json()["errors"])


def test_unknown_kind_solver_and_option(api: Api) -> None:
    instance = {"steps": 1}
    assert api.request("POST", "/v1/jobs", json={"kind": "nope", "instance": instance}).status_code == 404
    unknown_solver = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": instance, "solver": "x"})
    assert unknown_solver.status_code == 404
    unknown_option = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": instance, "options": {"foo": 1}})
    assert unknown_option.status_code == 422
    assert unknown_option.json()["errors"][0]["loc"] == ["options", "foo"]


def test_client_cannot_set_server_fields(api: Api) -> None:
    body = {"kind": "fake", "instance": {"steps": 1}, "status": "succeeded", "tenant_id": 1, "attempts": 0}
    response = api.request("POST", "/v1/jobs", json=body)
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} >= {("status",), ("tenant_id",)}


def test_body_that_is_not_json_is_400(api: Api) -> None:
    response = api.request("POST", "/v1/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_time_limit_is_capped_by_server_config(api: Api) -> None:
    job = api.submit("fake", {"steps": 0}, options={"time_limit_s": 80_000})
    from app.settings import get_settings

    assert job["options"]["time_limit_s"] == get_settings().max_time_limit_s


def test_oversized_body_is_413(api: Api) -> None:
    from app.settings import get_settings

    size = get_settings().max_body_bytes + 1
    response = api.request("POST", "/v1/jobs", content=b"x" * size, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_kinds_listing_description_and_validate(api: Api) -> None:
    kinds = api.request("GET", "/v1/kinds").json()
    milp = next(k for k in kinds if k["kind"] == "milp")
    assert milp["default_solver"] in [s["name"] for s in milp["solvers"]]
    described = api.request("GET", "/v1/kinds/milp").json()
    assert described["instance_schema"] and described["result_schema"]
    assert all("options_schema" in s for s in described["solvers"])
    valid = api.request("POST", "/v1/kinds/milp/validate", json=described["example"])
    assert valid.status_code == 200 and valid.json()["valid"] is True
    assert valid.json()["summary"]["variables"] == len(described["example"]["variables"])
    invalid = api.request("POST", "/v1/kinds/milp/validate", json={"format": "json"})
    assert invalid.status_code == 422 and invalid.json()["errors"]
    assert api.request("GET", "/v1/kinds/nope").status_code == 404


def test_every_kind_example_validates(api: Api) -> None:
    for kind in api.request("GET", "/v1/kinds").json():
        example = api.request("GET", f"/v1/kinds/{kind['kind']}").json()["example"]
        response = api.request("POST", f"/v1/kinds/{kind['kind']}/validate", json=example)
        assert response.status_code == 200, (kind["kind"], response.text)


def test_concurrent_job_quota_is_429_with_retry_after(api: Api) -> None:
    from app.settings import get_settings

    settings = get_settings()
    original = settings.tenant_max_active_jobs
    settings.tenant_max_active_jobs = 1
    try:
        api.submit("fake", {"steps": 50, "seconds": 0.1})
        over = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": {"steps": 1}})
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    finally:
        settings.tenant_max_active_jobs = original
        for job in api.request("GET", "/v1/jobs", params={"status": "queued"}).json()["items"]:
            api.request("POST", f"/v1/jobs/{job['id']}/cancel")
        for job in api.request("GET", "/v1/jobs", params={"status": "running"}).json()["items"]:
            api.request("POST", f"/v1/jobs/{job['id']}/cancel")


@pytest.mark.usefixtures("worker")
def test_the_active_job_count_behind_the_quota_follows_every_status_change(api: Api) -> None:
    import uuid

    from sqlalchemy import func, select

    from app.db import ACTIVE, Job, TenantActiveJobs, get_sessionmaker

    def counted_and_kept(job_id: str) -> tuple[int, int]:
        with get_sessionmaker()() as session:
            job = session.get(Job, uuid.UUID(job_id))
            assert job is not None
            counted = session.scalar(select(func.count()).where(Job.tenant_id == job.tenant_id, Job.status.in_(ACTIVE)))
            kept = session.get(TenantActiveJobs, job.tenant_id)
            return int(counted or 0), kept.active if kept is not None else 0

    quick = api.submit("fake", {"steps": 1})
    slow = api.submit("fake", {"steps": 200, "seconds": 0.1})
    counted, kept = counted_and_kept(slow["id"])
    assert kept == counted and kept >= 1  # the slow one at least is still queued or running
    assert api.wait(quick["id"])["status"] == "succeeded"
    assert api.request("POST", f"/v1/jobs/{slow['id']}/cancel").status_code in (200, 202)
    assert api.wait(slow["id"])["status"] == "cancelled"
    assert counted_and_kept(slow["id"]) == (0, 0)
    assert api.request("DELETE", f"/v1/jobs/{quick['id']}").status_code == 204  # a finished job leaves no trace
    assert counted_and_kept(slow["id"]) == (0, 0)


def test_request_rate_quota_is_429(api: Api) -> None:
    from app import quotas
    from app.settings import get_settings

    settings = get_settings()
    original = settings.tenant_requests_per_minute
    settings.tenant_requests_per_minute = 3
    quotas._buckets.clear()
    try:
        codes = [api.request("GET", "/v1/jobs").status_code for _ in range(5)]
    finally:
        settings.tenant_requests_per_minute = original
        quotas._buckets.clear()
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


@pytest.mark.usefixtures("worker")
def test_health_and_metrics(client: Any, api: Api) -> None:
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    api.submit("fake", {"steps": 0})
    from app.settings import get_settings

    get_settings().metrics_token = "scrape-secret"
    try:
        metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).text
    finally:
        get_settings().metrics_token = None
    assert "solvent_jobs{" in metrics and "solvent_http_requests_total" in metrics
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_solver_that_cannot_take_the_instance_is_refused_at_submission(api: Api) -> None:
    flugpl = {"format": "mps", "model": (EXAMPLES / "milp" / "flugpl.mps").read_text()}
    response = api.request("POST", "/v1/jobs", json={"kind": "milp", "instance": flugpl, "solver": "cpsat"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["solver"]
    assert "cpsat" in response.json()["detail"]
