"""The embedded quick start (SQLite store, SQLAlchemy broker, one worker) runs the README walk-through.

The server and the README's curl block run in a copy of the repository's files with nothing beside it, so
the walk-through can only use what a clone has.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, readme_walkthrough, wait_for
from tests.embedded import embedded_server


def copy_of_repository(target: Path) -> Path:
    """The repository's files (tracked, and new ones git does not ignore) copied to target."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def readme_curl_block() -> str:
    """The bash block of the README's walk-through, minus the line that sets URL and key by hand."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A walk-through with curl", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README has no walk-through block"
    return "\n".join(line for line in block.group(1).splitlines() if not line.startswith("export SOLVENT_URL"))


def test_readme_walkthrough_runs_in_a_bare_copy_of_the_repository(tmp_path: Path) -> None:
    clone = copy_of_repository(tmp_path / "solvent")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}
    env["PYTHONPATH"] = str(clone)
    with embedded_server(clone, env, tmp_path / "var", tmp_path / "serve.log") as (url, key):
        done, _ = readme_walkthrough(url, key)  # waits for readiness, then one job through the API
        assert done["status"] == "succeeded", done
        assert done["created_at"].endswith("+00:00") and done["finished_at"].endswith("+00:00")  # UTC
        walked = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_curl_block()],
            cwd=clone, env={**env, "SOLVENT_URL": url, "SOLVENT_KEY": key},
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert walked.returncode == 0, walked.stderr
        result = json.loads(walked.stdout[walked.stdout.rindex('{"job_id"') :])  # curl's last answer
        assert result["status"] == "optimal" and abs(result["objective"] - 1201500) < 1e-6
        assert result["verification"]["feasible"] is True
        assert "event: status" in walked.stdout  # the SSE stream ran to the job's end
        assert (tmp_path / "var" / "solvent.sqlite").exists()
    # stopping `solvent serve` (SIGTERM) stops its worker, its pool and every solve process with it
    wait_for(lambda: not processes_mentioning(str(tmp_path / "var")), 20, what="no process left of the server")


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains text."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return found
