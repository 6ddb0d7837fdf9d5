"""Runs one solve, and then its independent check, each in a child process with a memory limit, a
wall-clock watchdog and (for the solve) cooperative cancel; the lease is renewed all the while.

The children are forked by this pool process's template process (``workers.template``), which has
imported every kind and solver library once, so a job waits neither for an interpreter nor for imports.
A native crash, a memory blow-up or a runaway loop ends the child, never the worker; whatever way the
runner is left (an exception included), the child's process group is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
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


def _pump_lines(stream: IO[str], sink: queue.Queue[str | None]) -> None:
    with stream:
        for line in stream:
            sink.put(line)
    sink.put(None)


def _keep_tail(stream: IO[str], tail: deque[str]) -> None:
    with stream:
        for line in stream:
            tail.append(line)


# The child needs no credentials: of the service's own settings it reads only where extra kinds live.
CHILD_SETTINGS = ("SOLVENT_EXTRA_KINDS",)
#: The child's last message: its answer (a solve's result, a check's verification) or an error.
FINAL_MESSAGES = ("result", "verification", "error")
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


class TemplateGone(Exception):
    """The template process ended (killed, or failed while importing) before it answered."""


class ForkedChild:
    """A solve or check process forked by the template: its pipes, and its end as the template reports it.

    It is not this process's child, so its exit status comes over the template's socket. The template
    reports an end before it reaps the child: while :meth:`poll` says it runs, its pid is not reused.
    """

    def __init__(
        self, pid: int, control: socket.socket, memory_limit_mb: int, stdin: IO[str], stdout: IO[str], stderr: IO[str]
    ) -> None:
        self.pid = pid
        self.control = control
        self.memory_limit_mb = memory_limit_mb
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: killed by that signal), else None."""
        self._read_reports(timeout=0)
        return self.returncode

    def wait(self) -> int:
        """Block until the child has ended; its exit code."""
        while self.returncode is None:
            self._read_reports(timeout=None)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child's process group (the child leads its own)."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)

    def running(self) -> bool:
        """Whether the process exists and is not a zombie, read from /proc: the template's report of a spare's
        end may have been read (and dropped) by another child's poll while the spare waited."""
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    def discard(self) -> None:
        """End a child that was never given a job: closing its stdin ends it, the kill makes sure."""
        for stream in (self.stdin, self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        self.kill()

    def _read_reports(self, timeout: float | None) -> None:
        while self.returncode is None:
            ready, _, _ = select.select([self.control], [], [], timeout)
            if not ready:
                return
            data = self.control.recv(65536)
            if not data:
                # The template is gone, and the child went with it (PDEATHSIG); make sure of its group.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.returncode = -signal.SIGKILL
                return
            report = json.loads(data)
            if report.get("exited") == self.pid:
                self.returncode = int(report["returncode"])
            timeout = 0


class Template:
    """This process's template (``workers.template``): every kind and solver library imported, forking a
    child per solve or check. It is started once per pool process and dies with it."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.spare: ForkedChild | None = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers.template", str(theirs.fileno()), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            env=child_environment(dict(os.environ)),
            pass_fds=(theirs.fileno(),),
            start_new_session=True,  # a terminal's signals to the worker's group are not for it
        )
        theirs.close()

    def alive(self) -> bool:
        """True while the template process runs."""
        return self.process.poll() is None

    def take(self, memory_limit_mb: int) -> ForkedChild:
        """The spare child forked earlier when it is still waiting with this limit, else a new child."""
        spare, self.spare = self.spare, None
        if spare is not None:
            if spare.memory_limit_mb == memory_limit_mb and spare.poll() is None and spare.running():
                return spare
            spare.discard()
        return self.fork(memory_limit_mb)

    def refill(self, memory_limit_mb: int) -> None:
        """Fork the next child now, while the one just taken works: the next solve or check starts
        without waiting for a fork (a few milliseconds for a process with the solver libraries mapped)."""
        if self.spare is None:
            with contextlib.suppress(TemplateGone):
                self.spare = self.fork(memory_limit_mb)

    def fork(self, memory_limit_mb: int) -> ForkedChild:
        """A new child within ``memory_limit_mb`` of address space, reading its spec from ``stdin``."""
        child_stdin, our_stdin = os.pipe()
        our_stdout, child_stdout = os.pipe()
        our_stderr, child_stderr = os.pipe()
        theirs = [child_stdin, child_stdout, child_stderr]
        ours = [
            open(our_stdin, "w", encoding="utf-8"),  # noqa: SIM115 - closed by the runner and the pumps
            open(our_stdout, encoding="utf-8"),  # noqa: SIM115
            open(our_stderr, encoding="utf-8"),  # noqa: SIM115
        ]
        try:
            request = json.dumps({"memory_limit_mb": memory_limit_mb}).encode()
            socket.send_fds(self.control, [request], theirs)
            pid = self._answer()
        except (TemplateGone, OSError) as exc:
            for stream in ours:
                stream.close()
            raise TemplateGone(str(exc)) from exc
        finally:
            for fd in theirs:
                os.close(fd)
        return ForkedChild(pid, self.control, memory_limit_mb, *ours)

    def _answer(self) -> int:
        while True:
            data = self.control.recv(65536)  # the first answer waits for the template's imports
            if not data:
                raise TemplateGone("the template process ended")
            answer = json.loads(data)
            if "pid" in answer:  # (an earlier child's late end report is of no interest now)
                return int(answer["pid"])

    def close(self) -> None:
        """End the template (its children, the spare too, die with it)."""
        if self.spare is not None:
            self.spare.discard()
            self.spare = None
        self.control.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()


_template: Template | None = None


def start_template() -> Template:
    """This process's template, started (or restarted after it died) if needed.

    A pool process starts it as it starts, so its imports are done before the first job arrives.
    """
    global _template
    if _template is not None and not _template.alive():
        _template.close()
        _template = None
    if _template is None:
        _template = Template()
    return _template


@atexit.register
def _close_template() -> None:
    """At interpreter exit, end this process's template (a pool process's dies with it anyway)."""
    if _template is not None:
        _template.close()


def _take_child(memory_limit_mb: int) -> ForkedChild:
    """A child (for a solve or a check) forked from the template; one new template if it had died."""
    try:
        return start_template().take(memory_limit_mb)
    except TemplateGone:
        assert _template is not None
        _template.close()
        return start_template().take(memory_limit_mb)


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
        try:
            child.stdin.write(payload + "\n")
            child.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the child is gone: _watch finds out how
        if _template is not None:
            _template.refill(memory_limit_mb)
        outcome = _watch(child, started, deadline_s, kill_grace_s, supervisor, heartbeat_every_s, cancellable)
    except BaseException:
        child.kill()
        child.wait()
        raise
    finally:
        child.stdin.close()
    # Its answer is in: the group is killed (a child that is exiting anyway, or anything it left behind) and
    # not waited for; the template's late report of its end is ignored.
    child.kill()
    return outcome


def _watch(
    child: ForkedChild,
    started: float,
    deadline_s: float,
    kill_grace_s: float,
    supervisor: Supervisor,
    heartbeat_every_s: float,
    cancellable: bool,
) -> Outcome:
    messages: queue.Queue[str | None] = queue.Queue()
    stderr_tail: deque[str] = deque(maxlen=40)
    threading.Thread(target=_pump_lines, args=(child.stdout, messages), daemon=True).start()
    tail_reader = threading.Thread(target=_keep_tail, args=(child.stderr, stderr_tail), daemon=True)
    tail_reader.start()
    outcome = Outcome()

    soft_deadline = started + deadline_s
    stop_asked_at: float | None = None
    next_heartbeat = started + heartbeat_every_s
    # The loop ends on the child's final message, not on the channel's end: a process with the solver
    # libraries mapped takes milliseconds to tear down its address space before its pipes close.
    channel_open, answered = True, False
    while channel_open and not answered:
        try:
            line = messages.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            channel_open = False
        elif line:
            answered = _absorb(line, outcome, supervisor)
        now = time.monotonic()
        if now >= next_heartbeat:
            next_heartbeat = now + heartbeat_every_s
            ours, cancel = supervisor.heartbeat()
            if not ours:
                outcome.lost = True
                child.kill()
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
            child.kill()
    if outcome.lost:  # the loop broke off and the child was killed: read what it wrote
        child.wait()
        while True:
            try:
                line = messages.get(timeout=0.5)
            except queue.Empty:
                break
            if line is None:
                break
            _absorb(line, outcome, supervisor)
    outcome.wall_time_s = round(time.monotonic() - started, 4)
    if outcome.result is None and not outcome.lost:  # no answer, or an error: its end and all of its stderr
        returncode = child.wait()
        tail_reader.join(timeout=1.0)
        if outcome.error is None:
            outcome.error = _classify_death(returncode, outcome)
    outcome.stderr_tail = "".join(stderr_tail)[-4000:]
    return outcome


def _absorb(line: str, outcome: Outcome, supervisor: Supervisor) -> bool:
    """Record one line of the channel; True when it was the child's final message (its answer)."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return False
    if not isinstance(message, dict):
        return False
    outcome.record(message)
    if message.get("t") in ("incumbent", "bound", "log"):
        supervisor.on_message(message)
    return message.get("t") in FINAL_MESSAGES


def _ask_to_stop(child: ForkedChild) -> None:
    try:
        child.stdin.write("cancel\n")
        child.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass


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
