"""Schemathesis against the app's own OpenAPI document: no input, valid or not, yields a 5xx.

Bounded: a fixed number of generated cases per operation (positive and negative data). Runs in
process against the real database; the doorbell goes to the real Redis (no worker needs to run).
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from app.main import create_app

APP = create_app()
# /health/ready answers 503 by design when no worker runs; it has its own tests.
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/health/ready")
# Every case is sent with a valid key (below), so the bearer scheme is not a parameter to generate.
SCHEMA.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], with_security_parameters=False
)
EXAMPLES_PER_OPERATION = int(os.environ.get("SOLVENT_FUZZ_EXAMPLES", "25"))
TALLY = {"cases": 0, "server_errors": 0}


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
def test_no_input_yields_a_server_error(case: Any, make_key: Any) -> None:
    key = make_key("fuzz-tenant")
    response = case.call(headers={"Authorization": f"Bearer {key}"})
    TALLY["cases"] += 1
    TALLY["server_errors"] += response.status_code >= 500
    case.validate_response(response, checks=[not_a_server_error, negative_data_rejection])


def teardown_module() -> None:
    target = os.environ.get("SOLVENT_RELIABILITY_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"trial": "schemathesis fuzzing of the OpenAPI", **TALLY}) + "\n")
