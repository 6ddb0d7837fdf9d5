"""The administrative commands on the embedded store: keys create/list/revoke, serve on a busy port, quiet logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.client.conftest import Server
from tests.conftest import ROOT, wait_for


def solvent(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The ``solvent`` command in its own process, with no SOLVENT_* settings (as in the quick start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_keys_create_list_and_revoke_work_on_the_embedded_store(server: Server) -> None:
    created = solvent("keys", "create", "--tenant", "acme", "--data-dir", str(server.data_dir))
    assert created.returncode == 0, created.stderr
    key = re.search(r"api key \(shown once\): (\S+)", created.stdout)
    key_id = re.search(r"key id: (\S+)", created.stdout)
    assert key and key_id
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    assert httpx.get(f"{server.url}/v1/jobs", headers=headers).status_code == 200
    listed = solvent("keys", "list", cwd=server.data_dir.parent)  # ./var is found without --data-dir
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id.group(1)))
    assert "acme" in row and row.rstrip().endswith("-") and key.group(1) not in listed.stdout
    assert solvent("keys", "revoke", key_id.group(1), "--data-dir", str(server.data_dir)).returncode == 0
    # The server accepted the key moments ago: another process's revocation holds within api_key_cache_s.
    wait_for(lambda: httpx.get(f"{server.url}/v1/jobs", headers=headers).status_code == 401, 10, what="refusal")


def test_keys_without_a_reachable_database_say_so_in_one_message(tmp_path: Path) -> None:
    missing = solvent("keys", "create", "--tenant", "acme", "--data-dir", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no embedded store" in missing.stderr and "Traceback" not in missing.stderr


def test_serve_on_a_busy_port_fails_before_minting_a_key(server: Server, tmp_path: Path) -> None:
    port = server.url.rsplit(":", 1)[1]
    busy = solvent("serve", "--port", port, "--data-dir", str(tmp_path / "var"))
    assert busy.returncode == 1 and "cannot listen" in busy.stderr
    assert "API key" not in busy.stdout and not (tmp_path / "var").exists()


def test_the_quick_start_log_shows_jobs_but_not_every_housekeeping_run(server: Server) -> None:
    job = httpx.post(
        f"{server.url}/v1/jobs",
        json={"kind": "fake", "instance": {"steps": 1, "seconds": 0}},
        headers={"Authorization": f"Bearer {server.key}"},
    ).json()
    wait_for(lambda: f"job {job['id']} attempt 1 finished" in server.log.read_text(), 60, what="the job's log line")
    time.sleep(max(0.0, server.started + 25 - time.monotonic()))  # two reaper periods (10 s) have passed
    log = server.log.read_text()
    housekeeping = [line for line in log.splitlines() if re.search(r"solvent\.(reap|deliver_webhooks)\b.*\S", line)]
    assert [line for line in housekeeping if "Task " in line or "due task" in line] == []
    assert f"job {job['id']} attempt 1: fake/count" in log
