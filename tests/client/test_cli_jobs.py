"""The job commands of ``solvent`` against a real embedded server: exit codes, text and --json output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from app.cli import app
from tests.client.conftest import Server
from tests.conftest import EXAMPLES

runner = CliRunner()


def solvent(server: Server, *args: str) -> tuple[int, str, str]:
    """Run ``solvent ARGS --url … --key …``: exit code, stdout, stderr."""
    done = runner.invoke(app, [*args, "--url", server.url, "--key", server.key])
    return done.exit_code, done.stdout, done.stderr


def test_submit_a_repository_example_with_wait_exits_0_and_prints_the_result(server: Server) -> None:
    code, out, err = solvent(server, "submit", "milp", str(EXAMPLES / "milp" / "flugpl.mps"), "--wait",
                             "-o", "time_limit_s=60")  # fmt: skip
    assert code == 0, err
    assert "status       optimal (optimal)" in out and "objective    1201500" in out
    assert "verification feasible" in out and re.search(r"\n    ANM2 +6\n", out)  # integral, as a person reads it
    job_id = err.split()[1]
    code, out, _ = solvent(server, "result", job_id, "--json")
    assert code == 0 and json.loads(out)["objective"] == 1201500
    code, out, _ = solvent(server, "status", job_id)
    assert code == 0 and out.startswith(job_id) and "succeeded" in out
    code, out, _ = solvent(server, "events", job_id, "--json")
    kinds = [json.loads(line)["type"] for line in out.splitlines()]
    assert code == 0 and kinds[0] == "status" and "incumbent" in kinds
    code, out, _ = solvent(server, "jobs", "--kind", "milp", "--limit", "5")
    assert code == 0 and job_id in out


def test_submit_json_without_wait_prints_the_job_and_cancel_ends_it(server: Server) -> None:
    code, out, _ = solvent(server, "submit", "fake", str(EXAMPLES / "milp" / "example.json"), "--json")
    assert code == 2  # a milp instance is not a fake one: the server's 422, a usage error
    code, out, _ = solvent(server, "submit", "task_allocation", str(EXAMPLES / "task_allocation" / "example.json"),
                           "--json", "--solver", "exact")  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "queued"
    code, out, _ = solvent(server, "result", json.loads(out)["id"], "--wait", "--json")
    assert code == 0 and json.loads(out)["verification"]["feasible"] is True


def test_wait_timeout_exits_3_and_a_cancelled_job_exits_1(server: Server, tmp_path: Path) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps({"steps": 300, "seconds": 0.1}))
    code, _, err = solvent(server, "submit", "fake", str(slow), "--wait", "--timeout", "1")
    assert code == 3 and "timed out" in err
    job_id = err.split()[1]
    code, out, _ = solvent(server, "cancel", job_id)
    assert code == 0 and "cancel requested" in out
    code, _, _ = solvent(server, "result", job_id, "--wait", "--timeout", "60")
    assert code == 1


def test_usage_errors_exit_2(server: Server) -> None:
    assert solvent(server, "submit", "milp", "no/such/file.mps")[0] == 2
    assert solvent(server, "submit", "milp", str(EXAMPLES / "milp" / "flugpl.mps"), "-o", "novalue")[0] == 2
    assert solvent(server, "status", "00000000-0000-0000-0000-000000000000")[0] == 2
    assert solvent(server, "submit", "treemap", str(EXAMPLES / "milp" / "flugpl.mps"))[0] == 2


def test_wait_on_a_terminal_draws_a_live_progress_line(server: Server, tmp_path: Path, monkeypatch: Any) -> None:
    import io

    from rich.console import Console

    from solvent_client import cli

    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=200))
    counting = tmp_path / "counting.json"
    counting.write_text(json.dumps({"steps": 20, "seconds": 0.2}))
    code, out, _ = solvent(server, "submit", "fake", str(counting), "--wait")
    assert code == 0 and "status       optimal" in out
    drawn = screen.getvalue()
    assert re.search(r"running +fake/count +elapsed [\d.]+ s +incumbent \d+ +bound 20", drawn), drawn[-500:]
