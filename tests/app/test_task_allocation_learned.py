"""The learned task_allocation solver through the service: a real worker answers, the check verifies it."""

from __future__ import annotations

import pytest

from solvers.task_allocation.learned.data import EVALUATION_SEEDS, recipe
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("worker")


def test_learned_solves_a_generated_instance_with_a_verified_answer(api: Api) -> None:
    described = api.request("GET", "/v1/kinds/task_allocation").json()
    learned = [solver for solver in described["solvers"] if solver["name"] == "learned"]
    assert learned and learned[0]["learned"] is True and learned[0]["exact"] is False
    instance = recipe(EVALUATION_SEEDS[1]).raw()
    job = api.submit("task_allocation", instance, solver="learned", options={"time_limit_s": 20, "seed": 1})
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["solver"] == "learned"
    assert result["verification"]["feasible"] is True, result["verification"]
    assert result["verification"]["objective"] == pytest.approx(result["objective"], abs=1e-9)
    assigned = [agent for agents in result["solution"]["assignments"].values() for agent in agents]
    assert len(assigned) == len(set(assigned))
