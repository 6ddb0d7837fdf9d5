"""Problem-kind endpoints: list, describe (schemas, options, example) and validate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from app.api.jobs import lookup_kind, parse_instance
from app.deps import TenantDep
from solvers.base import Kind
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


@router.post("/{kind}/validate", summary="Validate an instance without submitting it")
def validate_instance(kind: str, _: TenantDep, instance: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """200 with the instance's sizes, or 422 with every field error."""
    found = lookup_kind(kind)
    parsed = parse_instance(found, instance, loc_prefix=())
    return {"valid": True, "summary": found.summary(parsed)}
