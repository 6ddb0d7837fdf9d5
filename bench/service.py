"""Service overhead: the same MILP through the HTTP API (Postgres + Redis + Celery) vs HiGHS in one process.

    python bench/service.py [--repeats N] [--models flugpl.mps egout.mps …]

Starts an API (uvicorn) and a worker (celery) as local processes against a fresh database on the
local PostgreSQL and Redis, submits each model N times one after another, and compares the client's
submit-to-result time with the time of the same solve called directly in this process.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "milp"  # the development MPS files, in the repository
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def direct_solve_s(model_text: str) -> float:
    """Seconds to parse, solve with HiGHS and check, all in this process."""
    from solvers.base import NeverCancel, NullProgress
    from solvers.registry import get_kind

    kind = get_kind("milp")
    start = time.perf_counter()
    instance = kind.parse({"format": "mps", "model": model_text})
    spec = kind.solver("highs")
    result = spec.load().solve(instance, spec.options(time_limit_s=60), NullProgress(), NeverCancel())
    assert result.solution is not None
    kind.check(instance, result.solution)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["flugpl.mps", "egout.mps", "afiro.mps", "small_mip.mps"])
    args = parser.parse_args()
    database = f"solvent_bench_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SOLVENT_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        "SOLVENT_BROKER_URL": "redis://127.0.0.1:6379/6",
        "SOLVENT_QUEUE_NAME": f"bench-{database}",
        "SOLVENT_API_KEY_SECRET": secrets.token_hex(16),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "alembic"), "upgrade", "head"], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [str(bin_dir / "solvent"), "keys", "create", "--tenant", "bench"], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    ).stdout.strip().rsplit(" ", 1)[-1]  # fmt: skip
    quiet = subprocess.DEVNULL
    api = subprocess.Popen(
        [str(bin_dir / "uvicorn"), "app.main:create_app", "--factory", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=quiet, stderr=quiet,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-c", "1", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=quiet, stderr=quiet,
    )  # fmt: skip
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready", timeout=3).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        rows = []
        for name in args.models:
            text = (DATA / name).read_text()
            direct = [direct_solve_s(text) for _ in range(args.repeats)]
            service, solve = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                body = {"kind": "milp", "solver": "highs", "instance": {"format": "mps", "model": text}}
                job = httpx.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=30).json()
                while True:
                    state = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=headers, timeout=10).json()
                    if state["status"] in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(0.05)
                result = httpx.get(f"{url}/v1/jobs/{job['id']}/result", headers=headers, timeout=10).json()
                service.append(time.perf_counter() - start)
                solve.append(result["stats"]["solve_time_s"])
            rows.append((name, statistics.median(direct), statistics.median(solve), statistics.median(service)))
    finally:
        api.terminate()
        worker.terminate()
        api.wait()
        worker.wait()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(f"machine: {platform.node()} ({os.cpu_count()} cores), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: python bench/service.py --repeats {args.repeats} --models {' '.join(args.models)}\n")
    print("| model | direct highspy (parse+solve+check) s | in solve process s | HTTP submit→result s | overhead s |")
    print("|---|---|---|---|---|")
    for name, direct_s, solve_s, service_s in rows:
        print(f"| {name} | {direct_s:.3f} | {solve_s:.3f} | {service_s:.3f} | {service_s - direct_s:.3f} |")


if __name__ == "__main__":
    main()
