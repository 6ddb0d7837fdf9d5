"""The OpenAPI document: typed answers, problem+json errors, the bearer scheme and an example per kind.

The routes return plain dicts (their shape is tested, and fields may be added without touching a model),
so the answer types below document them rather than validate them: ``install_openapi`` replaces
FastAPI's document generator with one that adds these schemas, the kinds' instance schemas, the error
answers of every ``/v1`` operation and the ``Authorize`` button's bearer scheme.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from solvers.registry import all_kinds

StatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]  # the values of app.db.JobStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemItem(BaseModel):
    """One located error: ``loc`` is the path from the body's top (or ["query"|"header", name])."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """Every error answer (RFC 9457, ``application/problem+json``)."""

    type: str = Field(examples=["https://solvent.dev/problems/422"])
    title: str = Field(examples=["Unprocessable content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The milp instance is invalid; see errors."])
    errors: list[ProblemItem] = Field(default_factory=list)


class Progress(_Open):
    """The latest incumbent and bound of a running job."""

    elapsed_s: float | None = None
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    message: str | None = None


class JobError(_Open):
    """Why a job failed."""

    code: str = Field(examples=["time_limit", "memory_limit", "solver_error", "worker_lost", "invalid_instance"])
    message: str


class Job(_Open):
    """A job: what was submitted, where it stands, and links to its result and events."""

    id: str = Field(examples=["7f0c1b7e-8f8e-4c55-9f35-0a1d5c8a2b11"])
    kind: str = Field(examples=["milp"])
    solver: str = Field(examples=["highs"])
    status: StatusName
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    priority: int
    options: dict[str, Any]
    metadata: dict[str, Any]
    progress: Progress | None
    error: JobError | None
    warnings: list[str] = Field(description="What the server changed in the accepted request.")
    links: dict[str, str]


class JobPage(BaseModel):
    """A page of jobs, newest first; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[Job]
    next_cursor: str | None


class Verification(_Open):
    """The server's own check of the returned solution."""

    feasible: bool
    objective: float | None
    max_violation: float | None
    checked_by: str


class Result(_Open):
    """A job's result: ``status`` is how good the answer is, ``termination`` why the solver stopped."""

    job_id: str
    kind: str
    solver: str
    status: Literal["optimal", "feasible", "infeasible", "unbounded", "no_solution"]
    termination: Literal[
        "optimal", "gap_limit", "time_limit", "cancelled", "infeasible", "unbounded", "iteration_limit", "other"
    ]
    objective: float | None
    bound: float | None
    gap: float | None
    solution: dict[str, Any] | None = Field(description="Kind-specific; see the kind's result_schema.")
    stats: dict[str, Any] = Field(description="wall_time_s, solve_time_s, solver_name, solver_version, …")
    verification: Verification


class Event(BaseModel):
    """One event of a job, in ``seq`` order."""

    seq: int
    at: datetime
    type: str = Field(examples=["status", "incumbent", "bound", "log"])
    data: dict[str, Any]


class EventPage(BaseModel):
    """Events after the requested ``seq``."""

    items: list[Event]


class SolverInfo(_Open):
    """A solver of a kind (``options_schema`` in the kind's description)."""

    name: str
    exact: bool
    learned: bool
    description: str


class KindSummary(_Open):
    """A problem kind and its solvers."""

    kind: str
    title: str
    description: str
    default_solver: str
    solvers: list[SolverInfo]


class KindDetail(KindSummary):
    """A kind with its instance and result schemas, each solver's options schema and an example instance."""

    instance_schema: dict[str, Any]
    result_schema: dict[str, Any]
    example: dict[str, Any]


class Validation(_Open):
    """An accepted instance's sizes; for a whole job request also the solver, the options in force, warnings."""

    valid: bool
    summary: dict[str, Any]
    solver: str | None = None
    options: dict[str, Any] | None = None
    warnings: list[str] | None = None


#: (method, path) -> (success status, schema of the answer).
ANSWERS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("post", "/v1/jobs"): ("202", {"$ref": "#/components/schemas/Job"}),
    ("get", "/v1/jobs"): ("200", {"$ref": "#/components/schemas/JobPage"}),
    ("get", "/v1/jobs/{job_id}"): ("200", {"$ref": "#/components/schemas/Job"}),
    ("get", "/v1/jobs/{job_id}/result"): ("200", {"$ref": "#/components/schemas/Result"}),
    ("get", "/v1/jobs/{job_id}/events"): ("200", {"$ref": "#/components/schemas/EventPage"}),
    ("post", "/v1/jobs/{job_id}/cancel"): ("202", {"$ref": "#/components/schemas/Job"}),
    ("get", "/v1/kinds"): ("200", {"type": "array", "items": {"$ref": "#/components/schemas/KindSummary"}}),
    ("get", "/v1/kinds/{kind}"): ("200", {"$ref": "#/components/schemas/KindDetail"}),
    ("post", "/v1/kinds/{kind}/validate"): ("200", {"$ref": "#/components/schemas/Validation"}),
}
AUTHORIZATION = ("header", "authorization")  # documented as the bearer scheme instead
MODELS = (Problem, Job, JobPage, Result, Event, EventPage, KindSummary, KindDetail, Validation)
ERRORS = {
    "400": "The body is not JSON, or not sent as application/json.",
    "401": "No API key, or one the server does not know.",
    "404": "No such job for this tenant, or no such kind or solver.",
    "409": "The job's state does not allow it.",
    "413": "The body is over the server's limit.",
    "422": "Invalid instance, options or parameters; `errors` locates each problem.",
    "429": "Over the tenant's rate or active-job quota; see Retry-After.",
    "503": "Database or broker unreachable; nothing was written; see Retry-After.",
}


def _errors_of(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    codes = ["401", "422", "429", "503"]
    if "{" in path or method == "post":
        codes.append("404")
    if path.endswith(("/result", "/cancel", "/result.svg")) or (method, path) == ("post", "/v1/jobs"):
        codes.append("409")
    if "requestBody" in operation:
        codes += ["400", "413"]
    return sorted(codes)


def _kind_schemas() -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Every kind's instance schema as components (its $defs hoisted and renamed), and refs to them."""
    components: dict[str, Any] = {}
    refs = []
    for kind in all_kinds():

        def rename(node: Any, prefix: str = kind.name) -> Any:
            if isinstance(node, dict):
                return {k: rename(v) for k, v in node.items()}
            if isinstance(node, list):
                return [rename(v) for v in node]
            if isinstance(node, str) and node.startswith("#/$defs/"):
                return f"#/components/schemas/{prefix}.{node.removeprefix('#/$defs/')}"
            return node

        schema = dict(kind.instance_schema)
        for name, definition in schema.pop("$defs", {}).items():
            components[f"{kind.name}.{name}"] = rename(definition)
        components[f"{kind.name}.instance"] = {**rename(schema), "title": f"{kind.name} instance"}
        refs.append({"$ref": f"#/components/schemas/{kind.name}.instance"})
    return components, refs


def _examples() -> dict[str, Any]:
    """A request per kind that can be sent as it is."""
    return {
        kind.name: {
            "summary": kind.title,
            "value": {"kind": kind.name, "instance": kind.example, "options": {"time_limit_s": 60}},
        }
        for kind in all_kinds()
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the additions this module describes."""
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    models: list[tuple[type[BaseModel], Literal["serialization"]]] = [(model, "serialization") for model in MODELS]
    _, generated = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas.update(generated.get("$defs", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    kind_components, instance_refs = _kind_schemas()
    schemas.update(kind_components)
    if "JobRequest" in schemas:
        schemas["JobRequest"]["properties"]["instance"] = {
            "anyOf": instance_refs,
            "description": "The kind's instance; GET /v1/kinds/{kind} describes it and gives an example.",
        }
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer slv_…`."}
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not path.startswith("/v1"):
                continue
            operation["security"] = [{"bearer": []}]
            operation["parameters"] = [
                p for p in operation.get("parameters", []) if (p["in"], p["name"].lower()) != AUTHORIZATION
            ]
            if not operation["parameters"]:
                del operation["parameters"]
            responses = operation.setdefault("responses", {})
            for code in list(responses):
                if code.startswith(("4", "5")):
                    del responses[code]
            if (method, path) in ANSWERS:
                code, schema = ANSWERS[(method, path)]
                responses[code] = {
                    "description": responses.get(code, {}).get("description", "Success"),
                    "content": {"application/json": {"schema": schema}},
                }
                if (method, path) == ("post", "/v1/jobs"):
                    repeat = "A repeat with the same Idempotency-Key and body: the job made the first time."
                    responses["200"] = {**responses[code], "description": repeat}
            for code in _errors_of(method, path, operation):
                responses[code] = {
                    "description": ERRORS[code],
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
    submit = document["paths"].get("/v1/jobs", {}).get("post")
    if submit is not None:
        submit["requestBody"]["content"]["application/json"]["examples"] = _examples()
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve build_openapi's document (built once) at /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
