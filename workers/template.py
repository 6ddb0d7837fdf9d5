"""The template process of a worker pool process: imports every kind and its solver libraries once, then
forks one child per solve or check, so a job never waits for an interpreter to start or a library to load.

Started by the pool process (``workers.runner.Template``) as ``python -m workers.template FD PARENT_PID``,
FD being its end of a ``SOCK_SEQPACKET`` socket pair. On that socket, one JSON message each:

- request ``{"memory_limit_mb": N}`` with three file descriptors, the child's stdin, stdout and stderr
  → answer ``{"pid": P}``; the child runs ``workers.child.main`` as a fresh solve process would;
- when a child ends, ``{"exited": P, "returncode": R}`` (negative: killed by signal -R), sent *before*
  the child is reaped, so its pid and process group cannot be reused while the pool process may still
  signal them.

The template stays single-threaded: a fork copies only the forking thread, so a lock held by any other
thread would stay held forever in the child. The solver libraries start their thread pools at solve
time, in the child. The template dies with its pool process (``PR_SET_PDEATHSIG``), and each child with
the template; a closed socket also ends it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import sys
from typing import NoReturn

from workers import child

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
#: Process names (``comm``, as ``ps -o comm`` and ``pgrep`` show them) of the template and its children.
TEMPLATE_NAME = "solvent-tmpl"
CHILD_NAME = "solvent-job"
#: Exit status of a child whose set-up failed before the job's code ran.
SETUP_FAILED = 70


def _prctl(option: int, value: int | bytes) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent ends; exit at once if the parent has already ended."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(SETUP_FAILED)


def thread_count() -> int:
    """Threads of this process, native ones included (the kernel's count)."""
    return len(os.listdir("/proc/self/task"))


def _become_child(fds: list[int], memory_limit_mb: int, template_pid: int, inherited: list[int]) -> NoReturn:
    """In the forked child: own session, limits, the job's pipes as stdin/stdout/stderr, then the job."""
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        os.setsid()  # its own process group: the runner kills the group
        _die_with_parent(template_pid)
        for fd in inherited:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        _prctl(PR_SET_NAME, CHILD_NAME.encode())
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # as a fresh process would: its own seed, not the template's
            numpy.random.seed()
        child.main()
    finally:
        os._exit(SETUP_FAILED)


def _returncode_if_ended(pid: int) -> int | None:
    """The child's exit code (negative: the signal that killed it) once it has ended, without reaping it."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None or info.si_pid == 0:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def serve(control: socket.socket) -> None:
    """Fork a child per request and report each child's end, until the pool process closes the socket."""
    template_pid = os.getpid()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # SIGCHLD wakes the select below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    while True:
        ready, _, _ = select.select([control.fileno(), wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
        for pid in sorted(children):
            returncode = _returncode_if_ended(pid)
            if returncode is not None:
                control.send(json.dumps({"exited": pid, "returncode": returncode}).encode())
                os.waitpid(pid, 0)
                children.discard(pid)
        if control.fileno() not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, 65536, 3)
        if not message:
            return  # the pool process closed its end: it is gone or done
        request = json.loads(message)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_child(fds, int(request["memory_limit_mb"]), template_pid, [control.fileno(), wake_r, wake_w])
        for fd in fds:
            os.close(fd)
        children.add(pid)
        control.send(json.dumps({"pid": pid}).encode())


def main(argv: list[str]) -> None:
    """Import everything a job needs, then serve fork requests on the socket named in argv."""
    control_fd, parent_pid = int(argv[1]), int(argv[2])
    _die_with_parent(parent_pid)
    _prctl(PR_SET_NAME, TEMPLATE_NAME.encode())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the worker, which ends us
    control = socket.socket(fileno=control_fd)
    child.preload_kinds()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer pages copied on write
    if thread_count() != 1:
        print(f"solvent template: {thread_count()} threads after the imports; forks may deadlock", file=sys.stderr)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the pool process is gone
        serve(control)


if __name__ == "__main__":
    main(sys.argv)
