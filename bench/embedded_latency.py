"""Embedded quick start latency: flugpl.mps submit → result through `solvent serve` (SQLite store and broker).

    python bench/embedded_latency.py [--jobs N] [--gap-s S] [--poll-s S]

Starts `solvent serve` on a fresh data directory and a free port, waits until it is ready, sends one
warm-up job, then N jobs one after another (``--gap-s`` apart), and prints, per job and as percentiles,
the client's time from the start of the POST to the body of ``GET /result`` (status polled every
``--poll-s``), next to the same parse + HiGHS solve + check called directly in this process.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "milp" / "flugpl.mps"
FINAL = ("succeeded", "failed", "cancelled")


def direct_solve_s(model_text: str) -> float:
    """Seconds to parse, solve with HiGHS and check flugpl, all in this process."""
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


def submit_to_result_s(client: httpx.Client, body: dict[str, object], poll_s: float) -> tuple[float, str]:
    """One job: seconds from the start of the POST to the result's body, and the job's final status."""
    start = time.perf_counter()
    created = client.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    while (status := client.get(f"/v1/jobs/{job_id}").json()["status"]) not in FINAL:
        assert time.perf_counter() - start < 120, f"job {job_id} still {status} after 120 s"
        time.sleep(poll_s)
    result = client.get(f"/v1/jobs/{job_id}/result")
    elapsed = time.perf_counter() - start
    assert status != "succeeded" or result.json()["objective"] is not None, result.text
    return elapsed, status


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, by linear interpolation."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--gap-s", type=float, default=0.5, help="pause between one job's result and the next submit")
    parser.add_argument("--poll-s", type=float, default=0.01, help="how often the client polls the job's status")
    parser.add_argument("--broker-poll-s", type=float, default=None, help="the server's SOLVENT_BROKER_POLL_INTERVAL_S")
    args = parser.parse_args()
    model = MODEL.read_text()
    direct = [direct_solve_s(model) for _ in range(5)]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="solvent-embedded-") as data_dir:
        env = {name: value for name, value in os.environ.items() if not name.startswith("SOLVENT_")}
        if args.broker_poll_s is not None:
            env["SOLVENT_BROKER_POLL_INTERVAL_S"] = str(args.broker_poll_s)
        log_path = Path(data_dir) / "serve.log"
        with log_path.open("w") as log:  # a file, not a pipe: nobody reads the server's log while it runs
            server = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--data-dir", data_dir, "--port", str(port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            key = ""
            while not key and server.poll() is None:
                time.sleep(0.1)
                if found := re.search(r"API key for tenant 'local': (slv_\S+)", log_path.read_text()):
                    key = found.group(1)
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        if client.get("/health/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.2)
                body: dict[str, object] = {
                    "kind": "milp",
                    "solver": "highs",
                    "options": {"time_limit_s": 60},
                    "instance": {"format": "mps", "model": model},
                }
                warm_up, _ = submit_to_result_s(client, body, args.poll_s)
                times: list[float] = []
                for _ in range(args.jobs):
                    time.sleep(args.gap_s)
                    elapsed, status = submit_to_result_s(client, body, args.poll_s)
                    assert status == "succeeded", status
                    times.append(elapsed)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
            errors = [line for line in log_path.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
    print(f"machine: {platform.node()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.1f}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    broker_poll = "" if args.broker_poll_s is None else f" --broker-poll-s {args.broker_poll_s}"
    print(
        f"command: python bench/embedded_latency.py --jobs {args.jobs} --gap-s {args.gap_s} --poll-s {args.poll_s}"
        + broker_poll
    )
    print(f"errors in the server's log: {len(errors)}" + "".join(f"\n    {line}" for line in errors[:5]))
    print()
    print("| measurement | ms |")
    print("|---|---|")
    print(f"| flugpl in process (parse + HiGHS + check), median of 5 | {statistics.median(direct) * 1000:.0f} |")
    print(f"| first job after start-up (warm-up) | {warm_up * 1000:.0f} |")
    for name, q in (("p50", 0.5), ("p90", 0.9), ("max", 1.0)):
        print(f"| submit → result {name} of {len(times)} | {percentile(times, q) * 1000:.0f} |")


if __name__ == "__main__":
    main()
