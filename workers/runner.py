"""Runs one solve, and then its independent check, each in a child process with a memory limit, a
wall-clock watchdog and (for the solve) cooperative cancel; the lease is renewed all the while.

A native crash, a memory blow-up or a runaway loop ends the child, never the worker; whatever way the
runner is left (an exception included), the child's process group is killed.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

MEMORY_MARKERS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")


@dataclass
class SolveSpec:
    """What the child solves."""

    kind: str
    solver: str
    options: dict[str, Any]
    instance_json: str
    time_limit_s: float
    memory_limit_mb: int
    kill_grace_s: float


@dataclass
class CheckSpec:
    """What the check process verifies: a solution against the job's instance (and options), within limits."""

    kind: str
    instance_json: str
    solution: dict[str, Any]
    options: dict[str, Any]
    time_limit_s: float
    memory_limit_mb: int
    kill_grace_s: float


@dataclass
class Outcome:
    """How the child ended. ``result`` is the child's own result message, when it sent one.

    ``best_objective`` and ``best_solution`` are always one pair: the last incumbent that came with a
    solution (an incumbent without one changes neither).
    """

    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    best_objective: float | None = None
    best_solution: dict[str, Any] | None = None
    best_bound: float | None = None
    cancelled: bool = False
    timed_out: bool = False
    lost: bool = False
    wall_time_s: float = 0.0
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, message: dict[str, Any]) -> None:
        """Take in one message of the child (a result, an error, an incumbent or a bound)."""
        kind = message.get("t")
        if kind in ("result", "verification"):
            self.result = message
        elif kind == "error":
            self.error = {"code": str(message.get("code")), "message": str(message.get("message"))}
        elif kind == "incumbent" and message.get("solution") is not None:
            self.best_objective = message.get("objective")
            self.best_solution = message["solution"]
        elif kind == "bound":
            self.best_bound = message.get("bound")


class Supervisor:
    """What the runner asks of its caller while the child runs (database writes live behind it)."""

    def on_message(self, message: dict[str, Any]) -> None:
        """An incumbent, bound or log message from the child."""

    def heartbeat(self) -> tuple[bool, bool]:
        """Renew the lease: returns (still ours, cancel requested)."""
        return True, False


PR_SET_PDEATHSIG = 1


def _limit_memory(limit_mb: int) -> Callable[[], None]:
    """In the child before exec: address-space limit, own process group, die with the parent."""

    def apply() -> None:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return apply


def _pump_lines(stream: IO[str], sink: queue.Queue[str | None]) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def _keep_tail(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line)


_spare: tuple[int, subprocess.Popen[str]] | None = None

# The child needs no credentials: of the service's own settings it reads only where extra kinds live.
CHILD_SETTINGS = ("SOLVENT_EXTRA_KINDS",)
SECRET_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "CREDENTIAL")


def child_environment(parent: dict[str, str]) -> dict[str, str]:
    """The solve process's environment: the parent's without service settings and secrets, one thread each."""
    env = {
        name: value
        for name, value in parent.items()
        if (not name.startswith("SOLVENT_") or name in CHILD_SETTINGS)
        and not any(marker in name.upper() for marker in SECRET_MARKERS)
    }
    return {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _spawn_child(memory_limit_mb: int) -> subprocess.Popen[str]:
    env = child_environment(dict(os.environ))
    return subprocess.Popen(
        [sys.executable, "-m", "workers.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_limit_memory(memory_limit_mb),
    )


def _take_child(memory_limit_mb: int) -> subprocess.Popen[str]:
    """A child (for a solve or a check) that has already imported the kinds and solver libraries, and a
    new spare for the next one.

    Keeping one warm spare per worker process hides interpreter start-up and imports (most of the
    per-job overhead) from the job's latency; the spare dies with its worker (PDEATHSIG).
    """
    global _spare
    child = None
    if _spare is not None and _spare[0] == memory_limit_mb and _spare[1].poll() is None:
        child = _spare[1]
    elif _spare is not None:
        _kill(_spare[1])
    if child is None:
        child = _spawn_child(memory_limit_mb)
    _spare = (memory_limit_mb, _spawn_child(memory_limit_mb))
    return child


def run_in_child(spec: SolveSpec, supervisor: Supervisor, heartbeat_every_s: float = 2.0) -> Outcome:
    """Solve in a child process, relaying messages, renewing the lease and enforcing limits."""
    head = json.dumps({"kind": spec.kind, "solver": spec.solver, "options": spec.options})
    # Backstop: the solver honours its own limit; past limit + slack we ask it to stop, then kill.
    deadline_s = spec.time_limit_s + max(5.0, 0.1 * spec.time_limit_s)
    return _supervise(
        head[:-1] + ', "instance": ' + spec.instance_json + "}",
        spec.memory_limit_mb, deadline_s, spec.kill_grace_s, supervisor, heartbeat_every_s, cancellable=True,
    )  # fmt: skip


def check_in_child(spec: CheckSpec, supervisor: Supervisor, heartbeat_every_s: float = 2.0) -> Outcome:
    """Run the kind's check() on a solution in a child process; ``result`` is the verification.

    The lease stays renewed while it runs (a check may take longer than the lease); a cancel is not
    passed on, since the solve is already over.
    """
    head = json.dumps({"t": "check", "kind": spec.kind, "options": spec.options, "solution": spec.solution})
    return _supervise(
        head[:-1] + ', "instance": ' + spec.instance_json + "}",
        spec.memory_limit_mb, spec.time_limit_s, spec.kill_grace_s, supervisor, heartbeat_every_s, cancellable=False,
    )  # fmt: skip


def _supervise(
    payload: str,
    memory_limit_mb: int,
    deadline_s: float,
    kill_grace_s: float,
    supervisor: Supervisor,
    heartbeat_every_s: float,
    *,
    cancellable: bool,
) -> Outcome:
    """Hand ``payload`` to a child and watch it until it ends; the child never outlives this call."""
    started = time.monotonic()
    child = _take_child(memory_limit_mb)
    try:
        return _watch(child, payload, started, deadline_s, kill_grace_s, supervisor, heartbeat_every_s, cancellable)
    finally:
        _kill(child)
        child.wait()


def _watch(
    child: subprocess.Popen[str],
    payload: str,
    started: float,
    deadline_s: float,
    kill_grace_s: float,
    supervisor: Supervisor,
    heartbeat_every_s: float,
    cancellable: bool,
) -> Outcome:
    assert child.stdin and child.stdout and child.stderr
    messages: queue.Queue[str | None] = queue.Queue()
    stderr_tail: deque[str] = deque(maxlen=40)
    threading.Thread(target=_pump_lines, args=(child.stdout, messages), daemon=True).start()
    threading.Thread(target=_keep_tail, args=(child.stderr, stderr_tail), daemon=True).start()
    outcome = Outcome()
    try:
        child.stdin.write(payload + "\n")
        child.stdin.flush()
    except (BrokenPipeError, OSError):
        pass

    soft_deadline = started + deadline_s
    stop_asked_at: float | None = None
    next_heartbeat = started + heartbeat_every_s
    channel_open = True
    while channel_open:
        try:
            line = messages.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            channel_open = False
        elif line:
            _absorb(line, outcome, supervisor)
        now = time.monotonic()
        if now >= next_heartbeat:
            next_heartbeat = now + heartbeat_every_s
            ours, cancel = supervisor.heartbeat()
            if not ours:
                outcome.lost = True
                _kill(child)
                break
            if cancellable and cancel and not outcome.cancelled:
                outcome.cancelled = True
                stop_asked_at = now
                _ask_to_stop(child)
        if stop_asked_at is None and now >= soft_deadline:
            outcome.timed_out = True
            stop_asked_at = now
            _ask_to_stop(child)
        if stop_asked_at is not None and now - stop_asked_at > kill_grace_s and child.poll() is None:
            _kill(child)
    returncode = child.wait()
    # Drain anything left on the channel when the loop ended before the channel closed.
    while channel_open:
        try:
            line = messages.get(timeout=0.5)
        except queue.Empty:
            break
        if line is None:
            break
        _absorb(line, outcome, supervisor)
    outcome.wall_time_s = round(time.monotonic() - started, 4)
    outcome.stderr_tail = "".join(stderr_tail)[-4000:]
    if outcome.result is None and outcome.error is None and not outcome.lost:
        outcome.error = _classify_death(returncode, outcome)
    return outcome


def _absorb(line: str, outcome: Outcome, supervisor: Supervisor) -> None:
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return
    if not isinstance(message, dict):
        return
    outcome.record(message)
    if message.get("t") in ("incumbent", "bound", "log"):
        supervisor.on_message(message)


def _ask_to_stop(child: subprocess.Popen[str]) -> None:
    try:
        assert child.stdin
        child.stdin.write("cancel\n")
        child.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            child.kill()


def _classify_death(returncode: int, outcome: Outcome) -> dict[str, str]:
    if outcome.cancelled:
        return {"code": "cancelled", "message": "stopped on request"}
    if outcome.timed_out:
        return {"code": "time_limit", "message": "the solver ignored its time limit and was killed"}
    tail = "".join(outcome.stderr_tail)
    if any(marker in tail for marker in MEMORY_MARKERS):
        return {"code": "memory_limit", "message": "the solve ran out of its memory limit"}
    if returncode < 0:
        return {"code": "killed", "message": f"the solve process was killed by signal {-returncode}"}
    return {"code": "solver_error", "message": f"the solve process exited with code {returncode} without a result"}
