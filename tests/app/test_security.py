"""Security review (issue 20), API process: authentication before the body, bounded inputs, atomic quota,
event streams that do not pin database connections."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import Api, settle_jobs, wait_for


@contextmanager
def changed_settings(**values: Any) -> Iterator[None]:
    """Temporarily change the process-wide settings."""
    from app.settings import get_settings

    settings = get_settings()
    original = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in original.items():
            setattr(settings, name, value)


# ---------------------------------------------------------------------------------------------
# H2: authenticate from the headers before the body is read


def test_unauthenticated_request_is_answered_without_reading_its_body(database: str) -> None:
    from app.main import create_app

    app = create_app()
    body_reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal body_reads
        body_reads += 1
        return {"type": "http.request", "body": b'{"kind": "fake", "instance": {}}', "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/jobs",
        "raw_path": b"/v1/jobs",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"32")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 401
    assert body_reads == 0


def test_unauthenticated_30_mb_body_is_401_not_parsed(client: Any) -> None:
    not_json = b"{" + b"x" * (30 * 1024 * 1024)
    response = client.post(
        "/v1/jobs",
        content=not_json,
        headers={"content-type": "application/json", "Authorization": "Bearer slv_deadbeef_wrong"},
    )
    assert response.status_code == 401  # not 400: the body was never parsed
    assert response.headers["www-authenticate"] == "Bearer"


# ---------------------------------------------------------------------------------------------
# L2: a chunked body over the limit is 413 too


def test_oversized_chunked_body_without_content_length_is_413(make_key: Callable[[str | None], str]) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with changed_settings(max_body_bytes=10_000):
        app = create_app()
    key = make_key(None)

    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "fake", "instance": {"pad": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}}'

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post(
            "/v1/jobs",
            content=chunks(),
            headers={"content-type": "application/json", "Authorization": f"Bearer {key}"},
        )
    assert response.request.headers.get("content-length") is None
    assert response.status_code == 413
    assert response.json()["status"] == 413 and "10000 bytes" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# L1: inputs that reached the database as 5xx


@pytest.mark.parametrize("path", ["events", "events/stream"])
def test_event_cursor_beyond_64_bits_is_422(api: Api, path: str) -> None:
    job = api.submit("fake", {"steps": 0})
    response = api.request("GET", f"/v1/jobs/{job['id']}/{path}", params={"after": 2**63})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "after"]


def test_last_event_id_beyond_64_bits_is_422(api: Api) -> None:
    job = api.submit("fake", {"steps": 0})
    response = api.request("GET", f"/v1/jobs/{job['id']}/events/stream", headers={"Last-Event-ID": str(2**63)})
    assert response.status_code == 422


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_in_metadata_or_options_is_422(api: Api, number: str) -> None:
    for body in (
        f'{{"kind": "fake", "instance": {{"steps": 1}}, "metadata": {{"run": [1, {number}]}}}}',
        f'{{"kind": "fake", "instance": {{"steps": 1}}, "options": {{"rel_gap": {number}}}}}',
    ):
        response = api.request("POST", "/v1/jobs", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
    located = api.request(
        "POST",
        "/v1/jobs",
        content=f'{{"kind": "fake", "instance": {{"steps": 1}}, "metadata": {{"run": [1, {number}]}}}}',
        headers={"content-type": "application/json"},
    )
    assert located.json()["errors"][0]["loc"] == ["metadata", "run", 1]  # from the body's top, as every loc
    assert api.request("GET", "/v1/jobs").json()["items"] == []


# ---------------------------------------------------------------------------------------------
# M3: the active-job quota holds under parallel submits


def test_parallel_submits_never_exceed_the_active_job_quota(api: Api) -> None:
    quota, parallel = 2, 12
    start = threading.Barrier(parallel)

    def submit(_: int) -> int:
        start.wait()
        response = api.request("POST", "/v1/jobs", json={"kind": "fake", "instance": {"steps": 1}})
        return int(response.status_code)

    with changed_settings(tenant_max_active_jobs=quota), ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(submit, range(parallel)))
    created = api.request("GET", "/v1/jobs", params={"status": "queued"}).json()["items"]
    assert len(created) == quota
    assert sorted(codes) == [202] * quota + [429] * (parallel - quota)


# ---------------------------------------------------------------------------------------------
# H1: open event streams hold no database connection; streams per tenant are capped


@pytest.fixture
def live_url(database: str) -> Iterator[str]:
    """The app served by uvicorn over real HTTP in a thread of this process."""
    import uvicorn

    from app.main import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, what="the test server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


class OpenStream:
    """An SSE stream held open in a thread until closed; records its status and first event."""

    def __init__(self, url: str, key: str) -> None:
        self.status: int | None = None
        self.first_event: dict[str, Any] | None = None
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self.thread.start()

    def _run(self, url: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            self.status = response.status_code
            if response.status_code != 200:
                return
            lines = response.iter_lines()  # kept referenced: leaving the loop must not close the stream
            for line in lines:
                if line.startswith("data:"):
                    self.first_event = json.loads(line[5:])
                    break
            self.closing.wait(60)

    def close(self) -> None:
        self.closing.set()
        self.thread.join(20)


def test_thirty_open_streams_leave_the_database_to_other_tenants(
    live_url: str, make_key: Callable[[str | None], str]
) -> None:
    streams: list[OpenStream] = []
    try:
        for _ in range(3):
            key = make_key(None)
            created = httpx.post(
                f"{live_url}/v1/jobs",
                json={"kind": "fake", "instance": {"steps": 1}},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert created.status_code == 202, created.text
            url = f"{live_url}/v1/jobs/{created.json()['id']}/events/stream"
            streams += [OpenStream(url, key) for _ in range(10)]
        wait_for(lambda: all(s.first_event or (s.status or 200) != 200 for s in streams), 60, what="30 streams")
        assert [s.status for s in streams] == [200] * 30
        assert all(s.first_event and s.first_event["data"]["status"] == "queued" for s in streams)
        other = make_key(None)
        response = httpx.get(f"{live_url}/v1/jobs", headers={"Authorization": f"Bearer {other}"}, timeout=60)
        assert response.status_code == 200, response.text
    finally:
        for stream in streams:
            stream.close()


def test_event_streams_per_tenant_are_capped_and_released(live_url: str, make_key: Callable[[str | None], str]) -> None:
    key = make_key(None)
    created = httpx.post(
        f"{live_url}/v1/jobs",
        json={"kind": "fake", "instance": {"steps": 1}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    url = f"{live_url}/v1/jobs/{created.json()['id']}/events/stream"
    with changed_settings(tenant_max_streams=2):
        first, second = OpenStream(url, key), OpenStream(url, key)
        try:
            wait_for(lambda: first.first_event and second.first_event, 30, what="two streams")
            with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as over:
                assert over.status_code == 429
            first.close()
            third = OpenStream(url, key)
            wait_for(lambda: third.status is not None, 30, what="a third stream")
            assert third.status == 200
            third.close()
        finally:
            first.close()
            second.close()


# ---------------------------------------------------------------------------------------------
# M6: /metrics behind a token, aggregated by the database and cached


def test_metrics_are_off_without_a_token_and_need_it_when_on(client: Any, api: Api) -> None:
    api.submit("fake", {"steps": 1})
    with changed_settings(metrics_token=None):
        off = client.get("/metrics")
        assert off.status_code == 404 and "solvent_jobs" not in off.text
    with changed_settings(metrics_token="scrape-secret", metrics_cache_s=0):
        for headers in ({}, api.headers, {"Authorization": "Bearer scrape-wrong"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "solvent_jobs" not in refused.text
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert scraped.status_code == 200 and 'solvent_jobs{kind="fake",status="queued"}' in scraped.text


def test_duration_histogram_comes_from_the_roll_up_kept_as_jobs_finish_and_is_read_once_per_cache_period(
    client: Any, make_key: Callable[[str | None], str]
) -> None:
    import math
    import uuid
    from datetime import timedelta

    from sqlalchemy import delete, event, select

    from app import metrics, store
    from app.db import Job, JobStatus, get_engine, get_sessionmaker, utcnow
    from app.store import get_or_create_tenant

    kind = f"probe{uuid.uuid4().hex[:8]}"
    now = utcnow()
    with get_sessionmaker()() as session:
        tenant = get_or_create_tenant(session, f"tenant-{kind}")
        finished = []
        for seconds in (0.05, 3.0, 100.0):
            job = Job(
                tenant_id=tenant.id,
                kind=kind,
                solver="count",
                status=JobStatus.RUNNING,
                attempts=1,
                options={},
                client_metadata={},
                instance="{}",
                created_at=now,
                started_at=now - timedelta(seconds=seconds),
            )
            session.add(job)
            session.flush()
            assert store.finish_job(session, job.id, 1, JobStatus.SUCCEEDED, result=None, error=None)
            finished.append(job.id)
        session.commit()
        ended = session.execute(select(Job.started_at, Job.finished_at).where(Job.id.in_(finished))).all()
        session.execute(delete(Job).where(Job.id.in_(finished)))  # as retention deletes finished jobs
        session.commit()
    job_queries: list[str] = []

    def count_job_queries(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM jobs" in statement or "FROM finished_job_stats" in statement:
            job_queries.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count_job_queries)
    metrics.JOB_METRICS.read_at = -math.inf
    try:
        with changed_settings(metrics_token="scrape-secret", metrics_cache_s=600):
            first = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).text
            read = len(job_queries)
            second = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).text
    finally:
        event.remove(get_engine(), "before_cursor_execute", count_job_queries)
        metrics.JOB_METRICS.read_at = -math.inf
    assert read == 2 and len(job_queries) == read  # active jobs and the roll-up, and none on the cached scrape
    assert all("status IN" in query for query in job_queries if "FROM jobs" in query)  # no finished job is read
    assert f'solvent_jobs{{kind="{kind}",status="succeeded"}} 3.0' in first  # counted although deleted since
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in first.splitlines()
        if line.startswith("solvent_solve_duration_seconds") and f'kind="{kind}"' in line
    }
    bucket = f'solvent_solve_duration_seconds_bucket{{kind="{kind}",le="%s"}}'
    durations = [(end - start).total_seconds() for start, end in ended]  # about 0.05, 3 and 100 s
    for bound in ("0.1", "5", "60", "300"):
        assert samples[bucket % bound] == sum(d <= float(bound) for d in durations)
    assert samples[bucket % "300"] == 3 and samples[bucket % "+Inf"] == 3
    assert samples[f'solvent_solve_duration_seconds_count{{kind="{kind}"}}'] == 3
    assert abs(samples[f'solvent_solve_duration_seconds_sum{{kind="{kind}"}}'] - sum(durations)) < 0.01
    probe_lines = [line for line in first.splitlines() if kind in line]
    assert [line for line in second.splitlines() if kind in line] == probe_lines


# ---------------------------------------------------------------------------------------------
# L5: no default secret outside the quick start; a pinned, limited, hardened deployment


def test_default_or_short_key_secret_is_refused_outside_the_quick_start(database: str) -> None:
    from app.main import create_app
    from app.security import DEFAULT_KEY_SECRET, WeakKeySecret

    for secret in (DEFAULT_KEY_SECRET, "short"):
        with changed_settings(api_key_secret=secret, embedded=False), pytest.raises(WeakKeySecret):
            create_app()
    with changed_settings(api_key_secret=DEFAULT_KEY_SECRET, embedded=True):
        create_app()


def test_keys_create_refuses_the_default_secret_in_one_message(database: str) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "SOLVENT_API_KEY_SECRET"}
    command = [sys.executable, "-m", "app.cli", "keys", "create", "--tenant", "default-secret"]
    done = subprocess.run(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode == 2 and "SOLVENT_API_KEY_SECRET" in done.stderr and "Traceback" not in done.stderr
    assert "api key" not in done.stdout


def test_responses_carry_security_headers(client: Any, api: Api) -> None:
    for response in (api.request("GET", "/v1/jobs"), client.get("/v1/jobs")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    docs = client.get("/docs")
    assert docs.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in docs.headers


def test_compose_and_image_are_pinned_limited_and_hardened() -> None:
    import re
    import tomllib

    import yaml

    from app.settings import Settings
    from tests.conftest import ROOT

    exact_tag = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        assert "image" in service or service.get("build") == ".", name
        assert "image" not in service or exact_tag.match(service["image"]), (name, service.get("image"))
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("memory") and limits.get("cpus") and limits.get("pids"), name
        if service.get("build") == ".":
            assert "no-new-privileges:true" in service["security_opt"] and service["cap_drop"] == ["ALL"], name
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base and exact_tag.match(base.group(1)), base
    assert "-c constraints.txt" in dockerfile and "--upgrade pip" not in dockerfile
    pins = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#") and re.fullmatch(r"[\w.-]+==[\w.]+", line)
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for requirement in [*project["dependencies"], *extras["monitoring"], *extras["learned"]]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
    # A worker stopped for a redeploy finishes a job with the default time limit before it is killed.
    settings = Settings()
    watchdog = settings.default_time_limit_s + max(5.0, 0.1 * settings.default_time_limit_s) + settings.kill_grace_s
    grace = compose["services"]["worker"]["stop_grace_period"]
    assert grace.endswith("s") and float(grace[:-1]) > watchdog


# ---------------------------------------------------------------------------------------------
# M7: results and pictures built once and stored compressed; heavy requests per tenant capped


def test_heavy_requests_per_tenant_are_capped(api: Api, make_key: Callable[[str | None], str]) -> None:
    from sqlalchemy import select

    from app import quotas
    from app.db import ApiKey, get_sessionmaker

    with get_sessionmaker()() as session:
        tenant_id = session.scalar(select(ApiKey.tenant_id).where(ApiKey.prefix == api.key[:12]))
    body = {"kind": "fake", "instance": {"steps": 1}}
    with changed_settings(tenant_max_heavy_requests=2):
        in_progress = [quotas.HEAVY_REQUESTS.acquire(tenant_id, 2) for _ in range(2)]  # two slow parses, say
        try:
            for method, path in (("POST", "/v1/jobs"), ("POST", "/v1/kinds/fake/validate")):
                refused = api.request(method, path, json=body if path == "/v1/jobs" else body["instance"])
                assert refused.status_code == 429 and refused.headers["retry-after"], refused.text
            other_tenant = Api(api.client, make_key(None))
            assert other_tenant.request("POST", "/v1/jobs", json=body).status_code == 202
        finally:
            for release in in_progress:
                release()
        assert api.request("POST", "/v1/jobs", json=body).status_code == 202


@pytest.mark.usefixtures("worker")
def test_result_and_picture_are_built_once_stored_compressed_and_streamed(api: Api) -> None:
    from sqlalchemy import update

    from app.db import Job, JobResult, get_sessionmaker

    settle_jobs()  # the jobs the tests above left queued would run first
    example = api.request("GET", "/v1/kinds/treemap").json()["example"]
    job = api.submit("treemap", example)
    assert api.wait(job["id"], timeout=120)["status"] == "succeeded"
    paths = (f"/v1/jobs/{job['id']}/result", f"/v1/jobs/{job['id']}/result.svg")
    first = {path: api.request("GET", path, headers={"Accept-Encoding": "gzip"}) for path in paths}
    for response in first.values():
        assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) < len(response.content)  # sent compressed
    assert first[paths[0]].json()["verification"]["feasible"] is True
    assert "<svg" in first[paths[1]].text
    # Were they built again, they would now differ (or fail): the stored renderings are served instead.
    with get_sessionmaker()() as session:
        session.execute(update(JobResult).where(JobResult.job_id == job["id"]).values(data={"status": "tampered"}))
        session.execute(update(Job).where(Job.id == job["id"]).values(instance="{}"))
        session.commit()
    for path in paths:
        plain = api.request("GET", path, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.content == first[path].content
    assert api.request("DELETE", f"/v1/jobs/{job['id']}").status_code == 204
    assert api.request("GET", paths[0]).status_code == 404


def test_event_cursor_beyond_64_bits_is_422_on_sqlite_too(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from app.cli import migrate_database
    from app.db import get_engine, get_sessionmaker
    from app.main import create_app
    from app.security import create_key

    url = f"sqlite:///{tmp_path / 'embedded.sqlite'}"
    get_engine().dispose()  # the PostgreSQL engine's pooled connections close now, not when collected
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    try:
        with changed_settings(database_url=url):
            migrate_database(url)
            with get_sessionmaker()() as session:
                key = create_key(session, "sqlite-tenant").key
                session.commit()
            headers = {"Authorization": f"Bearer {key}"}
            with TestClient(create_app(), raise_server_exceptions=False) as sqlite_client:
                job = sqlite_client.post("/v1/jobs", json={"kind": "fake", "instance": {"steps": 1}}, headers=headers)
                assert job.status_code == 202, job.text
                for path in ("events", "events/stream"):
                    response = sqlite_client.get(
                        f"/v1/jobs/{job.json()['id']}/{path}", params={"after": 2**63}, headers=headers
                    )
                    assert response.status_code == 422, response.text
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()
