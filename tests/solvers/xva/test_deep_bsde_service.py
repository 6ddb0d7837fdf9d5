"""deep_bsde through the service: a small netting set solved by a worker and verified by the check, its
CVA in agreement with monte_carlo's; without PyTorch on the server a 422 that names the extra."""

from __future__ import annotations

import json
import math

import pytest

from solvers.base import NeverCancel, NullProgress
from solvers.xva import KIND
from solvers.xva.monte_carlo import MonteCarloSolver
from solvers.xva.options import MonteCarloOptions
from tests.conftest import Api
from tests.solvers.xva.helpers import single_trade

pytestmark = pytest.mark.usefixtures("worker")


def small_netting_set() -> dict[str, object]:
    """A long call and a short put on one underlying, variation margin at threshold 5 and IM."""
    raw = single_trade(
        paths=2_000,
        steps=12,
        seed=9,
        collateral={"threshold": 5.0, "minimum_transfer": 0.0, "margin_period_days": 10, "initial_margin": {}},
    )
    raw["trades"].append(
        {"id": "t2", "type": "european_put", "underlying": "S1", "strike": 90.0, "maturity": 1.0, "quantity": -1.0}
    )
    return raw


def test_a_deep_bsde_job_is_verified_and_agrees_with_monte_carlo(api: Api) -> None:
    raw = small_netting_set()
    options = {"value_steps": 300, "quantile_steps": 400, "quantile_samples": 32_768, "seed": 2}
    job = api.submit("xva", raw, solver="deep_bsde", options=options)
    done = api.wait(job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["verification"]["feasible"] is True, result["verification"]
    solution = result["solution"]
    assert set(solution["exposure"]) >= {"times", "epe", "ene", "pfe", "expected_im_posted"}
    inst = KIND.parse(raw)
    reference = MonteCarloSolver().solve(inst, MonteCarloOptions(), NullProgress(), NeverCancel()).solution
    assert reference is not None
    for name in ("cva", "dva", "fva", "mva"):
        combined = math.hypot(solution["std_error"][name], reference["std_error"][name])
        assert abs(solution[name] - reference[name]) <= 4.0 * combined, (name, solution[name], reference[name])
    events = api.request("GET", f"/v1/jobs/{job['id']}/events").json()["items"]
    assert any("deep_bsde layer 1" in json.dumps(event["data"]) for event in events)  # the loss curve


def test_without_torch_on_the_server_deep_bsde_is_a_422_naming_the_extra(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    response = api.request(
        "POST", "/v1/jobs", json={"kind": "xva", "instance": small_netting_set(), "solver": "deep_bsde"}
    )
    assert response.status_code == 422, response.text
    assert "learned" in response.text and "PyTorch" in response.text
