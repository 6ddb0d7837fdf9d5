"""The runner: the solve process never outlives it, sees no service credentials, and is forked ahead of its job."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from workers.runner import Outcome, SolveSpec, Supervisor, run_in_child


def _fake_spec(instance: dict[str, Any], **options: Any) -> SolveSpec:
    return SolveSpec(
        kind="fake",
        solver="count",
        options={"time_limit_s": 30, **options},
        instance_json=json.dumps(instance),
        time_limit_s=30,
        memory_limit_mb=1536,
        kill_grace_s=1,
    )


class DatabaseGoesDown(Supervisor):
    """A supervisor whose lease renewal fails once the solve is under way, as when the database goes away."""

    def __init__(self) -> None:
        self.solving = False

    def on_message(self, message: dict[str, Any]) -> None:
        self.solving = self.solving or message["t"] == "incumbent"

    def heartbeat(self) -> tuple[bool, bool]:
        if self.solving:
            raise ConnectionError("the database is unreachable")
        return True, False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_an_exception_in_the_runner_kills_the_solve_process(tmp_path: Path) -> None:
    spec = _fake_spec({"steps": 1000, "seconds": 0.05, "mode": "marker", "marker_dir": str(tmp_path)})
    with pytest.raises(ConnectionError):
        run_in_child(spec, DatabaseGoesDown(), heartbeat_every_s=0.5)
    markers = list(tmp_path.iterdir())
    solve_pid = int(markers[0].name.split("-")[0])
    assert not _alive(solve_pid), "the solve process outlived the runner"


def test_the_solve_process_sees_no_credentials() -> None:
    assert os.environ["SOLVENT_DATABASE_URL"] and os.environ["SOLVENT_API_KEY_SECRET"]  # set by tests/conftest.py
    outcome: Outcome = run_in_child(_fake_spec({"steps": 1, "seconds": 0}), Supervisor())
    assert outcome.result is not None, outcome.error
    seen = outcome.result["stats"]["settings_seen"]
    assert "SOLVENT_DATABASE_URL" not in seen and "SOLVENT_API_KEY_SECRET" not in seen
    assert "SOLVENT_EXTRA_KINDS" in seen  # what the solve needs stays


def test_child_environment_keeps_only_what_a_solve_needs() -> None:
    from workers.runner import child_environment

    parent = {
        "PATH": "/usr/bin",
        "SOLVENT_BROKER_URL": "redis://secret@host",
        "SOLVENT_EXTRA_KINDS": "fake=tests.fake_kind",
        "POSTGRES_PASSWORD": "p",
        "AWS_SESSION_TOKEN": "t",
    }
    env = child_environment(parent)
    assert env["PATH"] == "/usr/bin" and env["SOLVENT_EXTRA_KINDS"] == "fake=tests.fake_kind"
    assert not {"SOLVENT_BROKER_URL", "POSTGRES_PASSWORD", "AWS_SESSION_TOKEN"} & set(env)


def test_the_next_solve_runs_in_the_child_forked_while_the_last_one_worked(tmp_path: Path) -> None:
    from workers import runner

    assert run_in_child(_fake_spec({"steps": 1, "seconds": 0}), Supervisor()).result is not None
    template = runner.start_template()
    assert template.spare is not None and _alive(template.spare.pid)
    waiting = template.spare.pid
    marked = _fake_spec({"steps": 1, "seconds": 0, "mode": "marker", "marker_dir": str(tmp_path)})
    assert run_in_child(marked, Supervisor()).result is not None
    assert [int(marker.name.split("-")[0]) for marker in tmp_path.iterdir()] == [waiting]


def test_a_spare_child_killed_while_waiting_is_never_given_a_job() -> None:
    from workers import runner

    assert run_in_child(_fake_spec({"steps": 1, "seconds": 0}), Supervisor()).result is not None
    template = runner.start_template()
    assert template.spare is not None
    with contextlib.suppress(ProcessLookupError):  # (it may have died already: all the same to the next job)
        os.killpg(template.spare.pid, signal.SIGKILL)
    time.sleep(0.2)  # the template reports its end
    outcome = run_in_child(_fake_spec({"steps": 1, "seconds": 0}), Supervisor())
    assert outcome.result is not None and outcome.error is None, outcome.error


def test_the_spare_child_ends_with_its_template() -> None:
    from workers import runner

    assert run_in_child(_fake_spec({"steps": 1, "seconds": 0}), Supervisor()).result is not None
    template = runner.start_template()
    assert template.spare is not None
    waiting = template.spare.pid
    template.close()
    runner._template = None
    for _ in range(50):
        if not _alive(waiting):
            break
        time.sleep(0.05)
    assert not _alive(waiting)
