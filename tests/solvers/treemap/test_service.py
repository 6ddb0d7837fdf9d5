"""Through the service: the worker verifies a slack_rectangles layout with the slack of the request, and
instances the solvers cannot take are a 422 that names the field."""

from __future__ import annotations

import pytest

from solvers.treemap.generate import epsilon_chain
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("worker")


def test_a_slack_rectangles_job_is_verified_with_the_requested_slack(api: Api) -> None:
    job = api.submit("treemap", epsilon_chain(6, 0.01), solver="slack_rectangles", options={"slack": 0.05})
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    verification = result["verification"]
    assert verification["feasible"] is True, verification
    assert "within slack 0.05" in verification["message"]  # the request's slack reached the check


def test_overflowing_weights_and_a_tiny_container_are_422_naming_the_field(api: Api) -> None:
    huge = {"tree": {"name": "r", "children": [{"name": "a", "weight": 1e308}, {"name": "b", "weight": 1e308}]}}
    tiny = {"tree": {"name": "r", "children": [{"name": "a", "weight": 1.0}]}, "width": 1e-200, "height": 1.0}
    for instance, field in ((huge, ["instance", "tree", "weight"]), (tiny, ["instance", "width"])):
        response = api.request("POST", "/v1/jobs", json={"kind": "treemap", "instance": instance})
        assert response.status_code == 422, response.text
        assert field in [error["loc"] for error in response.json()["errors"]], response.text
