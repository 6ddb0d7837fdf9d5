"""The learned milp solver through the service: a real worker answers, the check verifies it."""

from __future__ import annotations

import pytest

from solvers.milp.generate import generate
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("worker")


def test_predict_and_search_solves_a_generated_instance_with_a_verified_answer(api: Api) -> None:
    described = api.request("GET", "/v1/kinds/milp").json()
    learned = [solver for solver in described["solvers"] if solver["name"] == "predict_and_search"]
    assert learned and learned[0]["learned"] is True and learned[0]["exact"] is False
    instance = generate(7, "combinatorial_auction", items=20, bids=100)
    job = api.submit("milp", instance, solver="predict_and_search", options={"time_limit_s": 20})
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["solver"] == "predict_and_search"
    assert result["verification"]["feasible"] is True, result["verification"]
    assert result["verification"]["objective"] == pytest.approx(result["objective"], abs=1e-9)
    stats = result["stats"]
    assert stats["model"] == "combinatorial_auction" and stats["model_chosen_by"] == "recognised"
    assert stats["fixed_zeros"] + stats["fixed_ones"] > 0 and "restricted" in stats


def test_predict_and_search_refuses_a_model_without_binaries(api: Api) -> None:
    lp = {
        "format": "json",
        "variables": [{"name": "x", "obj": 1.0, "ub": 3}],
        "constraints": [{"name": "c", "terms": {"x": 1.0}, "lb": 1.0, "ub": None}],
    }
    response = api.request("POST", "/v1/jobs", json={"kind": "milp", "instance": lp, "solver": "predict_and_search"})
    assert response.status_code == 422
    assert "binary" in response.json()["detail"]
