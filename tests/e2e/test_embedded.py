"""The embedded quick start (SQLite store, SQLAlchemy broker, one worker) runs the README walk-through."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, readme_walkthrough, stop_process, wait_for
from tests.e2e.test_compose_services import free_port


def test_solvent_serve_solves_flugpl_without_postgres_or_redis(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "var")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        key = wait_for(
            lambda: (m := re.search(r"API key for tenant 'local': (\S+)", log_path.read_text())) and m.group(1),
            120, interval=0.5, what="the printed API key",
        )  # fmt: skip
        done, result = readme_walkthrough(f"http://127.0.0.1:{port}", key)
        assert done["status"] == "succeeded", done
        assert done["created_at"].endswith("+00:00") and done["finished_at"].endswith("+00:00")  # UTC, as API.md says
        assert result["status"] == "optimal" and abs(result["objective"] - 1201500) < 1e-6
        assert result["verification"]["feasible"] is True
        assert (tmp_path / "var" / "solvent.sqlite").exists()
    finally:
        stop_process(server)
        sys.stdout.write(log_path.read_text(errors="replace")[-3000:])
