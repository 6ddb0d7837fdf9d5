"""Every registered kind's example goes through the service and comes back verified."""

from __future__ import annotations

import pytest

from solvers.registry import KIND_MODULES
from tests.conftest import EXAMPLES, Api

pytestmark = pytest.mark.usefixtures("worker")
REAL_KINDS = [name for name in KIND_MODULES if name != "fake"]


@pytest.mark.parametrize("kind", REAL_KINDS)
def test_example_of_each_kind_is_solved_and_verified(api: Api, kind: str) -> None:
    described = api.request("GET", f"/v1/kinds/{kind}").json()
    job = api.submit(kind, described["example"], options={"time_limit_s": 30})
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["verification"]["feasible"] is True, result["verification"]
    assert result["solver"] == described["default_solver"] or kind == "milp"
    events = api.request("GET", f"/v1/jobs/{job['id']}/events").json()["items"]
    assert events[-1]["data"]["status"] == "succeeded"


@pytest.mark.parametrize("kind", ["treemap", "xva", "task_allocation", "milp"])
def test_result_svg_is_a_picture(api: Api, kind: str) -> None:
    example = api.request("GET", f"/v1/kinds/{kind}").json()["example"]
    job = api.submit(kind, example, options={"time_limit_s": 30})
    api.wait(job["id"], timeout=120)
    response = api.request("GET", f"/v1/jobs/{job['id']}/result.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith(("<svg", "<?xml")) and "</svg>" in response.text


def test_kind_without_picture_answers_404_for_svg(api: Api) -> None:
    job = api.submit("fake", {"steps": 0})
    api.wait(job["id"])
    assert api.request("GET", f"/v1/jobs/{job['id']}/result.svg").status_code == 404


def test_xva_netting_set_of_20_underlyings_and_50_trades_through_the_api(api: Api) -> None:
    from solvers.xva.generate import generate

    instance = generate(3, underlyings=20, trades=50, paths=10_000, steps=100)
    job = api.submit("xva", instance, options={"time_limit_s": 300})
    done = api.wait(job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    solution = result["solution"]
    assert result["verification"]["feasible"] is True
    assert set(solution["std_error"]) >= {"cva", "dva", "fva", "mva"}
    assert all(value >= 0 for value in solution["std_error"].values() if isinstance(value, float))
    assert len(solution["exposure"]["times"]) == 101 == len(solution["exposure"]["epe"])
    picture = api.request("GET", f"/v1/jobs/{job['id']}/result.svg")
    assert picture.status_code == 200 and "</svg>" in picture.text


def test_published_knapsack_instance_in_ad_format_returns_bound_gap_and_worst_case(api: Api) -> None:
    path = EXAMPLES / "knapsack_2ro" / "RKP_UN_n20_R1000_H100_h40_dev0.15_d0.1"
    job = api.submit(
        "knapsack_2ro", {"format": "ad", "text": path.read_text()}, solver="exact", options={"time_limit_s": 60}
    )
    done = api.wait(job["id"], timeout=150)
    assert done["status"] == "succeeded", done
    result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
    assert result["objective"] is not None and result["bound"] is not None and result["gap"] is not None
    assert result["bound"] >= result["objective"] - 1e-6
    worst = result["solution"]["worst_case"]
    assert len(worst["xi"]) == len(result["solution"]["selected"]) == 20
    assert result["verification"]["feasible"] is True
    assert result["verification"]["objective"] == pytest.approx(result["objective"], rel=1e-9)
    events = api.request("GET", f"/v1/jobs/{job['id']}/events").json()["items"]
    assert any(e["type"] == "bound" for e in events) and any(e["type"] == "incumbent" for e in events)


def test_real_valued_knapsack_instance_gets_a_verified_answer_from_every_solver(api: Api) -> None:
    from solvers.knapsack_2ro.generate import generate, to_ad_text

    raw = generate(9_001, n=12, correlation="WC", integral=False)  # real weights, repair weights and capacity
    assert not float(raw["capacity"]).is_integer() and not float(raw["items"][0]["weight"]).is_integer()
    objectives = {}
    for solver in api.request("GET", "/v1/kinds/knapsack_2ro").json()["solvers"]:
        name = solver["name"]
        for instance in (raw, {"format": "ad", "text": to_ad_text(raw)}):  # both formats carry the real values
            job = api.submit("knapsack_2ro", instance, solver=name, options={"time_limit_s": 60})
            done = api.wait(job["id"], timeout=150)
            assert done["status"] == "succeeded", (name, done)
            result = api.request("GET", f"/v1/jobs/{job['id']}/result").json()
            assert result["verification"]["feasible"] is True, (name, result["verification"])
            assert result["verification"]["objective"] == pytest.approx(result["objective"], rel=1e-9)
            objectives[name, instance["format"]] = result["objective"]
    assert {name for name, _ in objectives} == {"exact", "nominal", "neur2ro"}
    assert objectives["exact", "json"] == pytest.approx(objectives["exact", "ad"], rel=1e-9)
    assert all(value <= objectives["exact", "json"] + 1e-6 for value in objectives.values())  # exact is the best
