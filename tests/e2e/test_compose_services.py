"""Each docker-compose service's command and environment, run as local processes, drive a job end to end.

Docker cannot run here, so the services' own command lines and environments are taken from
docker-compose.yml, with the hostnames ``postgres`` and ``redis`` pointed at the local servers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.conftest import PG_ADMIN, ROOT, RUN_ID, readme_walkthrough, stop_process
from tests.embedded import free_port

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        if env.get(name):
            return env[name]
        if op == "?":
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return VARIABLE.sub(replace, value)


def service(name: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    spec = COMPOSE["services"][name]
    command = [interpolate(part, env) for part in spec["command"]]
    environment = {key: interpolate(str(value), env) for key, value in spec.get("environment", {}).items()}
    return command, environment


def test_compose_requires_secrets_and_exposes_only_the_api() -> None:
    with pytest.raises(KeyError):
        service("api", {})
    published = [name for name, spec in COMPOSE["services"].items() if spec.get("ports")]
    assert published == ["api"]
    for name in ("migrate", "api", "worker", "beat"):
        assert COMPOSE["services"][name].get("build") == "."
    for name in ("postgres", "redis", "api"):
        assert "healthcheck" in COMPOSE["services"][name]


@pytest.fixture
def compose_database() -> Any:
    name = f"solvent_compose_{RUN_ID}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_compose_services_as_local_processes_solve_flugpl(compose_database: str, tmp_path: Path) -> None:
    variables = {"POSTGRES_PASSWORD": "unused-locally", "SOLVENT_API_KEY_SECRET": "compose-test-secret"}
    local = {
        "SOLVENT_DATABASE_URL": compose_database,
        "SOLVENT_BROKER_URL": "redis://127.0.0.1:6379/4",
        "SOLVENT_QUEUE_NAME": f"solvent-compose-{RUN_ID}",
    }
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}

    def env_for(name: str) -> tuple[list[str], dict[str, str]]:
        command, environment = service(name, variables)
        assert environment["SOLVENT_DATABASE_URL"].startswith("postgresql+psycopg://solvent:")
        assert environment["SOLVENT_BROKER_URL"].startswith("redis://redis:6379")
        bin_dir = str(Path(sys.executable).parent)
        return command, {**base_env, **environment, **local, "PATH": bin_dir + os.pathsep + base_env["PATH"]}

    command, env = env_for("migrate")
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=120)

    port = free_port()
    command, env = env_for("api")
    command[command.index("8000")] = str(port)
    command[command.index("0.0.0.0")] = "127.0.0.1"
    processes = []
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        for name, (cmd, proc_env) in {
            "api": (command, env),
            "worker": env_for("worker"),
            "beat": env_for("beat"),
        }.items():
            if name == "beat":
                cmd = [*cmd[:-1], str(tmp_path / "celerybeat-schedule")]
            with open(logs / f"{name}.log", "wb") as out:  # the process has its own copy of the file
                processes.append(
                    subprocess.Popen(
                        cmd, cwd=ROOT, env=proc_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        key_output = subprocess.run(
            ["solvent", "keys", "create", "--tenant", "compose"],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        key = key_output.strip().rsplit(" ", 1)[-1]
        done, result = readme_walkthrough(f"http://127.0.0.1:{port}", key)
        assert done["status"] == "succeeded", done
        assert result["status"] == "optimal"
        assert abs(result["objective"] - 1201500) < 1e-6
        assert result["verification"]["feasible"] is True
    finally:
        for process in processes:
            stop_process(process)
        for log in logs.iterdir():
            sys.stdout.write(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")
