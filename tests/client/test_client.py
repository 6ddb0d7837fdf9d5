"""The Python client against a real embedded server: submit, wait, events, cancel, paging, typed errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from solvent_client import (
    AsyncClient,
    Client,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    WaitTimeout,
    instance_from,
)
from tests.client.conftest import Server
from tests.conftest import EXAMPLES, ROOT

FLUGPL_OPTIMUM = 1201500.0


def test_submit_a_file_wait_with_progress_and_read_result_and_events(server: Server) -> None:
    seen: list[str] = []
    with Client(server.url, server.key) as client:
        job = client.submit("milp", EXAMPLES / "milp" / "flugpl.mps", options={"time_limit_s": 60})
        assert job.status == "queued" and job.solver == "highs"
        job.wait(timeout=120, progress=lambda j: seen.append(j.status))
        assert job.status == "succeeded" and seen[-1] == "succeeded"
        result = job.result()
        assert result.status == "optimal" and result.objective == pytest.approx(FLUGPL_OPTIMUM)
        assert result.verification["feasible"] is True
        assert result.stats["solver_name"] == "highs" and result.stats["solver_version"].startswith("highspy 1.")
        streamed = list(job.events())
        stored = list(job.events(follow=False))
        assert [e.seq for e in streamed] == [e.seq for e in stored] == sorted(e.seq for e in stored)
        assert [e.data["status"] for e in streamed if e.type == "status"][-1] == "succeeded"
        assert any(e.type == "incumbent" for e in streamed)
        assert any(e.type == "log" and "Solving report" in e.data["message"] for e in streamed)  # HiGHS's log


def test_async_client_submits_a_json_example_and_waits(server: Server) -> None:
    async def run() -> tuple[str, Any, list[str]]:
        async with AsyncClient(server.url, server.key) as client:
            job = await client.submit("knapsack_2ro", EXAMPLES / "knapsack_2ro" / "example.json", solver="exact")
            await job.wait(timeout=120)
            result = await job.result()
            types = [event.type async for event in job.events()]
            return job.status, result, types

    status, result, types = asyncio.run(run())
    assert status == "succeeded" and result.status == "optimal"
    assert result.verification["feasible"] is True and types[-1] == "status"


def test_cancel_stops_a_running_job_and_keeps_its_best_result(server: Server) -> None:
    with Client(server.url, server.key) as client:
        job = client.submit("fake", {"steps": 600, "seconds": 0.1}, options={"time_limit_s": 120})
        for event in job.events():  # follow the live stream until the first incumbent
            if event.type == "incumbent":
                break
        assert job.cancel().data["status"] in ("running", "cancelled")
        job.wait(timeout=60)
        assert job.status == "cancelled"
        result = job.result()
        assert result.termination == "cancelled" and 1 <= result.solution["reached"] < 600
        with pytest.raises(Conflict):
            job.cancel()


def test_wait_gives_up_after_its_timeout_without_stopping_the_job(server: Server) -> None:
    with Client(server.url, server.key) as client:
        job = client.submit("fake", {"steps": 100, "seconds": 0.1})
        with pytest.raises(WaitTimeout):
            job.wait(timeout=0.5)
        assert not job.refresh().finished
        with pytest.raises(Conflict):
            job.result()
        job.cancel()


def test_an_invalid_instance_raises_422_with_located_errors_and_an_unknown_job_404(server: Server) -> None:
    bad = {"format": "json", "sense": "minimise", "variables": [{"name": "x", "type": "int"}], "constraints": []}
    with Client(server.url, server.key) as client:
        with pytest.raises(InvalidRequest) as invalid:
            client.submit("milp", bad)
        assert invalid.value.status == 422 and invalid.value.errors
        assert {tuple(error["loc"]) for error in invalid.value.errors} == {
            ("instance", "sense"),
            ("instance", "variables", 0, "type"),
        }
        with pytest.raises(NotFound) as missing:
            client.job(str(uuid.uuid4()))
        assert missing.value.status == 404 and "No job" in missing.value.detail
        with pytest.raises(NotFound):
            client.submit("no_such_kind", {})
    with Client(server.url, "slv_wrong") as stranger, pytest.raises(Unauthorized):
        stranger.kinds()


def test_a_repeated_submit_with_one_idempotency_key_makes_one_job_and_paging_lists_all(server: Server) -> None:
    example = json.loads((EXAMPLES / "treemap" / "example.json").read_text())
    with Client(server.url, server.key) as client:
        first = client.submit("treemap", example, idempotency_key="treemap-once")
        again = client.submit("treemap", example, idempotency_key="treemap-once")
        second = client.submit("treemap", EXAMPLES / "treemap" / "disk_usage.csv")
        assert first.id == again.id != second.id
        listed = [job.id for job in client.jobs(kind="treemap", page_size=1)]
        assert listed[:2] == [second.id, first.id] and len(listed) == len(set(listed))
        for job in (first, second):
            assert job.wait(timeout=60).result().verification["feasible"] is True


def test_429_and_503_are_retried_after_retry_after_then_raised() -> None:
    answers = iter([429, 503, 202])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 202:
            assert request.headers["Idempotency-Key"]
            return httpx.Response(202, json={"id": "1", "kind": "milp", "solver": "highs", "status": "queued"})
        problem = {"type": "t", "title": "busy", "status": status, "detail": "later", "errors": []}
        return httpx.Response(status, json=problem, headers={"Retry-After": "0"})

    with Client("http://solvent.test", "k", transport=httpx.MockTransport(handler)) as client:
        assert client.submit("milp", {"format": "json"}).status == "queued"
    always = httpx.MockTransport(lambda _: httpx.Response(429, json={"detail": "slow"}, headers={"Retry-After": "0"}))
    with (
        Client("http://solvent.test", "k", max_retries=2, transport=always) as client,
        pytest.raises(RateLimited) as limited,
    ):
        client.kinds()
    assert limited.value.detail == "slow"


def test_instances_from_files_and_typed_models() -> None:
    assert instance_from("milp", EXAMPLES / "milp" / "facility.lp")["format"] == "lp"
    assert (
        instance_from("knapsack_2ro", EXAMPLES / "knapsack_2ro" / "RKP_UN_n20_R1000_H100_h40_dev0.15_d0.1")["format"]
        == "ad"
    )
    assert instance_from("treemap", str(EXAMPLES / "treemap" / "disk_usage.csv"))["format"] == "csv"
    from solvers.knapsack_2ro.schema import JsonInstanceModel

    typed = JsonInstanceModel.model_validate(json.loads((EXAMPLES / "knapsack_2ro" / "example.json").read_text()))
    assert instance_from("knapsack_2ro", typed)["capacity"] == typed.capacity
    with pytest.raises(ValueError, match="milp model"):
        instance_from("treemap", EXAMPLES / "milp" / "flugpl.mps")


def test_the_client_imports_without_the_servers_packages() -> None:
    code = (
        "import sys, solvent_client, solvent_client.cli; "
        "print(sorted({'fastapi', 'sqlalchemy', 'celery', 'numpy', 'app', 'solvers', 'workers'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
