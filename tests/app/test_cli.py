"""The ``solvent`` command: keys are printed once and revocable; train dispatches by kind."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from app.cli import app
from solvers.registry import KIND_MODULES, trainers

runner = CliRunner()


def test_keys_create_prints_a_working_key_and_revoke_disables_it(client: object) -> None:
    created = runner.invoke(app, ["keys", "create", "--tenant", "cli-tenant"])
    assert created.exit_code == 0, created.output
    key = re.search(r"api key \(shown once\): (\S+)", created.output)
    key_id = re.search(r"key id: (\S+)", created.output)
    assert key and key_id and key.group(1).startswith(key_id.group(1))
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    assert client.get("/v1/jobs", headers=headers).status_code == 200  # type: ignore[attr-defined]
    assert runner.invoke(app, ["keys", "revoke", key_id.group(1)]).exit_code == 0
    assert client.get("/v1/jobs", headers=headers).status_code == 401  # type: ignore[attr-defined]
    assert runner.invoke(app, ["keys", "revoke", key_id.group(1)]).exit_code == 1


def test_train_refuses_a_kind_without_learned_solver() -> None:
    result = runner.invoke(app, ["train", "treemap"])
    assert result.exit_code == 2 and "knapsack_2ro" in result.output


def test_train_help_names_the_kinds_with_a_trainer() -> None:
    result = runner.invoke(app, ["train", "--help"])
    named = " ".join(result.output.split()).partition("Kinds with a trainer:")[2].partition(".")[0]
    assert result.exit_code == 0 and named.strip().split(", ") == list(trainers())
    assert set(trainers()) < set(KIND_MODULES)  # not every kind has a learned solver


@pytest.mark.parametrize("kind", list(trainers()))
def test_train_hands_the_extra_options_to_the_kinds_trainer(kind: str) -> None:
    result = runner.invoke(app, ["train", kind, "--no-such-option"])
    assert result.exit_code == 2 and "unrecognized arguments: --no-such-option" in result.output


def test_tenants_configure_sets_and_resets_the_job_ttl() -> None:
    from sqlalchemy import select

    from app.db import Tenant, get_sessionmaker

    def ttl() -> int | None:
        with get_sessionmaker()() as session:
            value: int | None = session.scalar(select(Tenant.job_ttl_s).where(Tenant.name == "cli-retention"))
            return value

    assert (
        runner.invoke(app, ["tenants", "configure", "--tenant", "cli-retention", "--job-ttl-days", "7"]).exit_code == 0
    )
    assert ttl() == 7 * 86400
    assert runner.invoke(app, ["tenants", "configure", "--tenant", "cli-retention", "--default-ttl"]).exit_code == 0
    assert ttl() is None
