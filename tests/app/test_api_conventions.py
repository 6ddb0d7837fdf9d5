"""Conventions a new user trips over: content type, trailing slashes, options a solver ignores, validate."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, Api

TREEMAP = json.loads((EXAMPLES / "treemap" / "example.json").read_text())


def test_a_body_without_json_content_type_is_400_naming_the_header(api: Api) -> None:
    body = json.dumps({"kind": "treemap", "instance": TREEMAP})
    response = api.request("POST", "/v1/jobs", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "Content-Type: application/json" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["header", "content-type"]
    bare = api.client.post("/v1/jobs", content=body.encode(), headers={**api.headers, "content-type": ""})
    assert bare.status_code == 400


def test_a_trailing_slash_is_served_not_redirected(api: Api) -> None:
    created = api.request("POST", "/v1/jobs/", json={"kind": "treemap", "instance": TREEMAP})
    assert created.status_code == 202, created.text
    listed = api.request("GET", "/v1/jobs/")
    assert listed.status_code == 200 and created.json()["id"] in {j["id"] for j in listed.json()["items"]}
    assert api.request("GET", f"/v1/jobs/{created.json()['id']}/").status_code == 200


def test_an_option_the_solver_has_no_use_for_is_422_naming_it(api: Api) -> None:
    body = {"kind": "treemap", "instance": TREEMAP, "options": {"rel_gap": 0.1}}
    response = api.request("POST", "/v1/jobs", json=body)
    assert response.status_code == 422
    expected = {"loc": ["options", "rel_gap"], "msg": "solver 'squarified' does not use rel_gap"}
    assert response.json()["errors"] == [expected]
    milp = json.loads((EXAMPLES / "milp" / "example.json").read_text())
    kept = api.request("POST", "/v1/jobs", json={"kind": "milp", "instance": milp, "options": {"rel_gap": 0.1}})
    assert kept.status_code == 202, kept.text


def test_a_capped_time_limit_is_said_in_the_job(api: Api) -> None:
    from app.settings import get_settings

    cap = get_settings().max_time_limit_s
    job = api.submit("treemap", TREEMAP, options={"time_limit_s": cap * 10})
    assert job["options"]["time_limit_s"] == cap
    assert len(job["warnings"]) == 1 and "cap" in job["warnings"][0]
    assert api.job(job["id"])["warnings"] == job["warnings"]
    assert api.submit("treemap", TREEMAP)["warnings"] == []


def test_validate_takes_an_instance_or_the_whole_job_request_with_one_loc_convention(api: Api) -> None:
    bare = api.request("POST", "/v1/kinds/treemap/validate", json=TREEMAP)
    assert bare.status_code == 200 and bare.json()["valid"] is True
    request = {"kind": "treemap", "instance": TREEMAP, "options": {"time_limit_s": 5}}
    envelope = api.request("POST", "/v1/kinds/treemap/validate", json=request)
    assert envelope.status_code == 200, envelope.text
    assert envelope.json()["solver"] == "squarified" and envelope.json()["options"]["time_limit_s"] == 5
    assert envelope.json()["summary"] == bare.json()["summary"]

    broken = {"tree": {"name": "root", "children": [{"name": "a", "weight": -1}]}}
    bare_error = api.request("POST", "/v1/kinds/treemap/validate", json=broken).json()["errors"][0]["loc"]
    submitted = api.request("POST", "/v1/jobs", json={"kind": "treemap", "instance": broken}).json()["errors"]
    wrapped = api.request("POST", "/v1/kinds/treemap/validate", json={"kind": "treemap", "instance": broken})
    assert wrapped.status_code == 422
    assert wrapped.json()["errors"][0]["loc"] == submitted[0]["loc"] == ["instance", *bare_error]
    wrong_kind = api.request("POST", "/v1/kinds/treemap/validate", json={"kind": "milp", "instance": TREEMAP})
    assert wrong_kind.status_code == 422 and wrong_kind.json()["errors"][0]["loc"] == ["kind"]
    unused = api.request("POST", "/v1/kinds/treemap/validate", json={**request, "options": {"seed": 3}})
    assert unused.status_code == 422 and unused.json()["errors"][0]["loc"] == ["options", "seed"]


def test_every_kind_locates_errors_the_same_way(api: Api) -> None:
    def locs(kind: str, instance: dict[str, object]) -> list[list[object]]:
        response = api.request("POST", "/v1/jobs", json={"kind": kind, "instance": instance})
        assert response.status_code == 422, response.text
        return [error["loc"] for error in response.json()["errors"]]

    mps = "NAME t\nROWS\n N obj\n L c1\nCOLUMNS\n x obj notanumber\nRHS\nENDATA\n"
    assert locs("milp", {"format": "mps", "model": mps}) == [["instance", "model", 6]]
    assert locs("milp", {"format": "lp", "model": "Minimize\n obj: x +\nSubject To\n c: x >= 1\nEnd\n"}) == [
        ["instance", "model", 2]
    ]
    assert ["instance", "text", 2] in locs("knapsack_2ro", {"format": "ad", "text": "3 10 1\n1 2 3\n"})
    assert ["instance", "text", 2] in locs("treemap", {"format": "csv", "text": "id,weight\nroot/a,-3\n"})
    knapsack = {"format": "json", "capacity": -1, "budget": 1, "items": [{"profit": 1}]}
    assert ["instance", "capacity"] in locs("knapsack_2ro", knapsack)  # no schema-internal "json" tag
    assert ["instance", "items", 0, "weight"] in locs("knapsack_2ro", knapsack)
