"""The OpenAPI document types every answer, documents problem+json errors and the bearer scheme, gives an
example per kind that the server accepts, and /docs needs nothing from the internet."""

from __future__ import annotations

import re
from typing import Any

from app.db import JobStatus
from solvers.registry import all_kinds
from tests.conftest import Api


def test_answers_are_typed_and_errors_are_problem_json(client: Any) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"Job", "JobPage", "Result", "Event", "EventPage", "Problem", "KindDetail", "Validation"} <= set(schemas)
    submit = document["paths"]["/v1/jobs"]["post"]
    assert submit["responses"]["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}
    result = document["paths"]["/v1/jobs/{job_id}/result"]["get"]["responses"]
    assert result["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Result")
    assert set(submit["responses"]) >= {"400", "401", "404", "409", "413", "422", "429", "503"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for code, answer in operation["responses"].items():
                if code >= "400":
                    assert list(answer["content"]) == ["application/problem+json"], (path, code)
    assert "HTTPValidationError" not in schemas


def test_documented_job_statuses_are_the_stored_ones(client: Any) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["schemas"]["Job"]["properties"]["status"]["enum"] == list(JobStatus)
    listing = document["paths"]["/v1/jobs"]["get"]["parameters"]
    status = next(parameter for parameter in listing if parameter["name"] == "status")
    assert status["schema"]["anyOf"][0]["enum"] == list(JobStatus)


def test_v1_operations_use_the_bearer_scheme_instead_of_a_header_field(client: Any) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, operations in document["paths"].items():
        if path.startswith("/v1"):
            for operation in operations.values():
                assert operation["security"] == [{"bearer": []}]
                assert all(p["name"].lower() != "authorization" for p in operation.get("parameters", []))


def test_every_kind_has_a_typed_instance_and_an_example_the_server_accepts(client: Any, api: Api) -> None:
    document = client.get("/openapi.json").json()
    instance = document["components"]["schemas"]["JobRequest"]["properties"]["instance"]
    refs = {ref["$ref"] for ref in instance["anyOf"]}
    examples = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    text = str(document)
    for ref in re.findall(r"#/components/schemas/[\w.]+", text):
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref  # every reference resolves
    for kind in all_kinds():
        assert f"#/components/schemas/{kind.name}.instance" in refs
        example = examples[kind.name]["value"]
        assert example["kind"] == kind.name
        answer = api.request("POST", f"/v1/kinds/{kind.name}/validate", json=example)
        assert answer.status_code == 200, answer.text


def test_docs_page_loads_its_scripts_from_this_server(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert scripts and all(url.startswith("/") for url in scripts), scripts
    for url in scripts:
        assert client.get(url).status_code == 200, url
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://solvent", "")
