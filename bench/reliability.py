"""Run the chaos trials and the OpenAPI fuzzing, then print the reliability table of docs/reliability.md.

    python bench/reliability.py [--rounds N] [--fuzz-examples K]

Needs what `make test` needs (PostgreSQL and Redis on 127.0.0.1, which the trials restart).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["submitted", "killed", "lost", "run_twice", "rerun", "recover_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1, help="how many times to run the chaos trials")
    parser.add_argument("--fuzz-examples", type=int, default=50, help="schemathesis cases per operation")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        report = Path(handle.name)
    env = {**os.environ, "SOLVENT_RELIABILITY_REPORT": str(report), "SOLVENT_FUZZ_EXAMPLES": str(args.fuzz_examples)}
    failed = 0
    for _ in range(args.rounds):
        failed |= subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/chaos"], cwd=ROOT, env=env).returncode
    failed |= subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/app/test_fuzz_openapi.py"], cwd=ROOT, env=env
    ).returncode
    rows = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    print(f"\nmachine: {platform.node()} ({os.cpu_count()} cores), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: python bench/reliability.py --rounds {args.rounds} --fuzz-examples {args.fuzz_examples}\n")
    print("| trial | " + " | ".join(COLUMNS) + " | other |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for row in rows:
        if "cases" in row:
            continue
        other = ", ".join(f"{k}={v}" for k, v in row.items() if k not in (*COLUMNS, "trial"))
        print(f"| {row['trial']} | " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + f" | {other} |")
    for row in rows:
        if "cases" in row:
            print(f"\n{row['trial']}: {row['cases']} cases, {row['server_errors']} server errors")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
