"""The web console in headless Chromium (Playwright driving the system browser) against a real API server.

Set SOLVENT_CONSOLE_SCREENSHOTS=docs/images to refresh the README's screenshots from this run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, TEST_ENV, Api, stop_process, wait_for
from tests.embedded import free_port

pytestmark = pytest.mark.usefixtures("worker")
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    """The API served by uvicorn over real HTTP, as in production."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)]
    log = open(f"/tmp/solvent-console-{port}.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **TEST_ENV}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, what="the API server")
        yield url
    finally:
        stop_process(process)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], errors


def _sign_in(page: Any, server: str, key: str) -> None:
    page.goto(f"{server}/console")
    page.fill("#api-key", "slv_wrong_key")
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('refused')")
    page.fill("#api-key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#jobs")
    assert page.evaluate("sessionStorage.getItem('solvent.apiKey')") == key
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("SOLVENT_CONSOLE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(ROOT / folder / name), full_page=True)


def test_sign_in_submit_the_treemap_example_watch_it_live_see_the_picture_download_the_result(
    page: Any, server: str, api: Api
) -> None:
    _sign_in(page, server, api.key)
    page.click("nav >> text=Submit")
    page.select_option("#submit-kind", "treemap")
    page.wait_for_function("() => document.querySelector('#submit-instance').value.includes('\"tree\"')")
    example = json.loads(page.input_value("#submit-instance"))
    described = api.request("GET", "/v1/kinds/treemap").json()
    assert example == described["example"]
    page.click("#submit-button")
    page.wait_for_url("**/console#/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]

    # The page follows the job through the event stream: every status change is appended as it arrives.
    page.wait_for_selector("#job-status [data-status=succeeded]", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('#events li[data-type=status]').length >= 3")
    statuses = page.eval_on_selector_all("#events li[data-type=status]", "items => items.map(i => i.textContent)")
    assert [s.split("→ ")[1] for s in statuses[:3]] == ["queued", "running", "succeeded"]
    assert int(page.get_attribute("#chart", "data-points") or 0) >= 1
    assert "nodes" in page.inner_text("#instance-summary")

    page.wait_for_selector("#result-picture")
    page.wait_for_function("() => document.querySelector('#result-picture').naturalWidth > 0")
    with page.expect_download() as download_info:
        page.click("#download")
    downloaded = json.loads(Path(download_info.value.path()).read_text())
    assert downloaded == api.request("GET", f"/v1/jobs/{job_id}/result").json()
    assert downloaded["verification"]["feasible"] is True
    _screenshot(page, "console-job.png")

    others = [k["kind"] for k in api.request("GET", "/v1/kinds").json() if k["kind"] not in ("treemap", "fake")]
    for kind in others:
        api.submit(kind, api.request("GET", f"/v1/kinds/{kind}").json()["example"])
    page.click("nav >> text=Jobs")
    page.wait_for_selector(f"#jobs tr[data-job='{job_id}']")
    kinds = page.eval_on_selector_all("#jobs tr[data-job] td:nth-child(2)", "cells => cells.map(c => c.textContent)")
    assert sorted(kinds) == sorted([*others, "treemap"])
    page.wait_for_timeout(1500)  # let some of them finish, for a screenshot with several statuses
    page.reload()
    page.wait_for_selector(f"#jobs tr[data-job='{job_id}']")
    _screenshot(page, "console-jobs.png")


def test_the_chart_grows_while_the_job_runs_and_cancel_stops_it(page: Any, server: str, api: Api) -> None:
    job = api.submit("fake", {"steps": 400, "seconds": 0.05})
    _sign_in(page, server, api.key)
    page.goto(f"{server}/console#/jobs/{job['id']}")
    page.wait_for_function("() => Number(document.querySelector('#chart')?.dataset.points ?? 0) >= 3", timeout=30_000)
    first = int(page.get_attribute("#chart", "data-points") or 0)
    page.wait_for_function(
        f"() => Number(document.querySelector('#chart')?.dataset.points ?? 0) > {first + 5}", timeout=30_000
    )
    page.click("#cancel")
    page.wait_for_selector("#job-status [data-status=cancelled]", timeout=30_000)
    assert api.job(job["id"])["status"] == "cancelled"
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_selector("#jobs")
    assert api.request("GET", f"/v1/jobs/{job['id']}").status_code == 404


def test_the_jobs_list_filters_and_pages(page: Any, server: str, api: Api) -> None:
    ids = [api.submit("fake", {"steps": 0, "seconds": 0}, priority=1)["id"] for _ in range(22)]
    treemap = api.submit("treemap", api.request("GET", "/v1/kinds/treemap").json()["example"])["id"]
    _sign_in(page, server, api.key)
    rows = page.eval_on_selector_all("#jobs tr[data-job]", "rows => rows.map(r => r.dataset.job)")
    assert rows[0] == treemap and len(rows) == 20
    page.click("#older")
    page.wait_for_selector(f"#jobs tr[data-job='{ids[0]}']")
    assert page.eval_on_selector_all("#jobs tr[data-job]", "rows => rows.map(r => r.dataset.job)") == ids[2::-1]
    page.click("#newer")
    page.wait_for_selector(f"#jobs tr[data-job='{treemap}']")
    page.select_option("#filter-kind", "treemap")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#jobs tr[data-job]').length === 1")
    page.select_option("#filter-solver", "polygonal")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#jobs td:has-text('No jobs match.')")


def test_list_filters_by_solver_and_creation_time(api: Api) -> None:
    first = api.submit("fake", {"steps": 0, "seconds": 0})
    second = api.submit("treemap", api.request("GET", "/v1/kinds/treemap").json()["example"], solver="slice_dice")

    def listed(**params: str) -> list[str]:
        return [j["id"] for j in api.request("GET", "/v1/jobs", params=params).json()["items"]]

    assert listed(solver="slice_dice") == [second["id"]]
    assert listed(created_after=second["created_at"]) == [second["id"]]
    assert listed(created_before=second["created_at"]) == [first["id"]]
    naive = second["created_at"].split("+")[0]  # no offset: read as UTC
    assert listed(created_after=naive) == [second["id"]]
    for bad in ("yesterday", "0.5"):
        refused = api.request("GET", "/v1/jobs", params={"created_after": bad})
        assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["query", "created_after"]


def test_console_is_served_with_a_strict_content_security_policy(api: Api) -> None:
    page = api.client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert api.client.get("/console/console.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/console/secrets.txt").status_code == 404
