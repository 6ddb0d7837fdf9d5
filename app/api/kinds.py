"""Problem-kind endpoints: list, describe (schemas, options, example) and validate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import ValidationError

from app.api.jobs import JobRequest, check_request, lookup_kind, parse_instance
from app.deps import HeavyRequest, TenantDep
from app.errors import ProblemError
from solvers.base import Kind, errors_from_validation
from solvers.registry import all_kinds

router = APIRouter(prefix="/v1/kinds", tags=["kinds"])


def kind_summary(kind: Kind) -> dict[str, Any]:
    """The short description of a kind with its solvers."""
    return {
        "kind": kind.name,
        "title": kind.title,
        "description": kind.description,
        "default_solver": kind.default_solver,
        "solvers": [
            {"name": s.name, "exact": s.exact, "learned": s.learned, "description": s.description}
            for s in kind.solvers.values()
        ],
    }


@router.get("", summary="List problem kinds")
def list_kinds(_: TenantDep) -> list[dict[str, Any]]:
    """Every kind with its solvers."""
    return [kind_summary(k) for k in all_kinds()]


@router.get("/{kind}", summary="Describe a problem kind")
def describe_kind(kind: str, _: TenantDep) -> dict[str, Any]:
    """The kind with instance and result schemas, each solver's options schema and an example."""
    found = lookup_kind(kind)
    described = kind_summary(found)
    for solver in described["solvers"]:
        solver["options_schema"] = found.solvers[solver["name"]].options.model_json_schema()
    described.update(instance_schema=found.instance_schema, result_schema=found.result_schema, example=found.example)
    return described


@router.post(
    "/{kind}/validate",
    summary="Validate an instance (or a whole job request) without submitting it",
    dependencies=[HeavyRequest],
)
def validate_instance(kind: str, _: TenantDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """200 with the instance's sizes, or 422 with every error located in the body sent.

    The body is an instance, or the job request a client would POST to /v1/jobs (told apart by its
    ``kind`` and ``instance`` fields); a request also has its solver and options checked.
    """
    found = lookup_kind(kind)
    if not ("kind" in body and isinstance(body.get("instance"), dict)):
        parsed = parse_instance(found, body, loc_prefix=())
        return {"valid": True, "summary": found.summary(parsed)}
    try:
        request = JobRequest.model_validate(body)
    except ValidationError as exc:
        raise ProblemError(422, "The job request is invalid; see errors.", errors=errors_from_validation(exc)) from exc
    if request.kind != found.name:
        message = f"the request is for kind {request.kind!r}, validated as {found.name!r}"
        raise ProblemError(422, message[:1].upper() + message[1:] + ".", errors=[{"loc": ["kind"], "msg": message}])
    checked = check_request(found.name, request.instance, request.solver, request.options)
    return {
        "valid": True,
        "summary": found.summary(checked.instance),
        "solver": checked.solver.name,
        "options": checked.options,
        "warnings": checked.warnings,
    }
