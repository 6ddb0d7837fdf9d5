"""Starting ``solvent serve`` (the embedded quick start) as a user would, for the tests that talk to it over HTTP."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import stop_process, wait_for


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_server(
    cwd: Path, env: dict[str, str], data_dir: Path, log_path: Path, *extra_args: str
) -> Iterator[tuple[str, str]]:
    """``solvent serve`` on a free port: yields (url, the key it printed); stopped, its log tail shown, after."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra_args],
            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        key = wait_for(
            lambda: (m := re.search(r"API key for tenant 'local': (\S+)", log_path.read_text())) and m.group(1),
            120, interval=0.5, what="the printed API key",
        )  # fmt: skip
        yield f"http://127.0.0.1:{port}", key
    finally:
        stop_process(process)
        sys.stdout.write(log_path.read_text(errors="replace")[-3000:])
