"""One real embedded server (``solvent serve``: SQLite store, SQLAlchemy broker, two solve slots) for this folder.

The client, the CLI and the Pyomo solver are tested against it over real HTTP, as a user would run them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, wait_for
from tests.embedded import embedded_server


@dataclass(frozen=True)
class Server:
    """Where the embedded server listens and the key it printed."""

    url: str
    key: str
    data_dir: Path
    log: Path
    started: float


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``solvent serve`` in a fresh data directory, with the test-only ``fake`` kind for long jobs."""
    data_dir = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLVENT_")}
    env.update(PYTHONPATH=str(ROOT), SOLVENT_EXTRA_KINDS="fake=tests.fake_kind")
    log_path = data_dir / "serve.log"
    started = time.monotonic()
    with embedded_server(ROOT, env, data_dir / "var", log_path, "--workers", "2") as (url, key):

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 90, interval=0.5, what="the embedded server to be ready")
        yield Server(url, key, data_dir / "var", log_path, started)
