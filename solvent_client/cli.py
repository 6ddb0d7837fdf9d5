"""The job commands of ``solvent``: submit, status, result, events, cancel, jobs — on top of the client.

Exit codes: 0 the job succeeded (or the command did what it was asked), 1 the job failed or was cancelled
(or the server could not be reached or refused the key), 2 a usage error (bad arguments, an instance or
option the server refuses, an unknown job), 3 ``--wait`` timed out (the job goes on).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from solvent_client._core import Event, Result
from solvent_client.client import Client, Job
from solvent_client.errors import ApiError, JobFailed, SolventError, WaitTimeout

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3
USAGE_STATUSES = (400, 404, 409, 413, 422)

Url = Annotated[str, typer.Option(envvar="SOLVENT_URL", help="Server URL.")]
Key = Annotated[str, typer.Option(envvar="SOLVENT_KEY", help="API key.", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
JobId = Annotated[str, typer.Argument(help="The job's id.")]

err = Console(stderr=True, highlight=False)


def add_job_commands(app: typer.Typer) -> None:
    """Register the job commands on the ``solvent`` command."""
    for command in (submit, status, result, events, cancel, jobs):
        app.command(command.__name__)(command)


def submit(
    kind: Annotated[str, typer.Argument(help="Problem kind: milp, knapsack_2ro, task_allocation, treemap, xva.")],
    file: Annotated[Path, typer.Argument(help="Instance file: .mps/.lp(.gz), .json, .csv (treemap), A&D text.")],
    solver: Annotated[str, typer.Option(help="'auto' or a solver of the kind.")] = "auto",
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="Solver option k=v (repeat).")] = None,
    metadata: Annotated[list[str] | None, typer.Option(help="Metadata k=v to keep with the job (repeat).")] = None,
    priority: Annotated[int, typer.Option(help="-10..10; higher runs first among your queued jobs.")] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result, showing progress.")] = False,
    timeout: Annotated[float | None, typer.Option(help="With --wait: give up after this many seconds.")] = None,
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Submit an instance file as a job; with --wait, show its progress and print its result."""
    if not file.is_file():
        _usage(f"no such file: {file}")
    options, meta = _pairs(option or [], "--option"), _pairs(metadata or [], "--metadata")
    with _client(url, key) as client:
        job = _call(lambda: client.submit(kind, file, solver=solver, options=options, metadata=meta, priority=priority))
        if not wait:
            _print(job.data if as_json else f"{job.id}  {job.status}  {job.kind}/{job.solver}", as_json)
            return
        if not as_json:
            typer.echo(f"job {job.id}  {job.kind}/{job.solver}", err=True)
        _finish(_wait(job, timeout, live=not as_json), as_json)


def status(job_id: JobId, url: Url = "http://127.0.0.1:8000", key: Key = "", as_json: AsJson = False) -> None:
    """Show a job's status and progress."""
    with _client(url, key) as client:
        job = _call(lambda: client.job(job_id))
        _print(job.data if as_json else _job_line(job), as_json)


def result(
    job_id: JobId,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job to end first.")] = False,
    timeout: Annotated[float | None, typer.Option(help="With --wait: give up after this many seconds.")] = None,
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Print a job's result (exit 1 if the job failed)."""
    with _client(url, key) as client:
        job = _call(lambda: client.job(job_id))
        _finish(_wait(job, timeout, live=not as_json) if wait else job, as_json)


def events(
    job_id: JobId,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Stream until the job ends.")] = True,
    after: Annotated[int, typer.Option(help="Only events after this seq.")] = 0,
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """Print a job's events (status, incumbents, bounds, solver log), live until it ends."""
    with _client(url, key) as client:
        job = _call(lambda: client.job(job_id))

        def show() -> None:
            for event in job.events(after=after, follow=follow):
                typer.echo(json.dumps(event.__dict__) if as_json else _event_line(event))

        _call(show)


def cancel(job_id: JobId, url: Url = "http://127.0.0.1:8000", key: Key = "", as_json: AsJson = False) -> None:
    """Cancel a job: a queued one never starts, a running one stops keeping its best solution."""
    with _client(url, key) as client:
        job = _call(lambda: client.job(job_id).cancel())
        _print(job.data if as_json else f"{job.id}  cancel requested ({job.status})", as_json)


def jobs(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    state: Annotated[str | None, typer.Option("--status", help="Only jobs in this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    as_json: AsJson = False,
) -> None:
    """List your jobs, newest first."""
    with _client(url, key) as client:

        def first() -> list[Job]:
            found = []
            for job in client.jobs(kind=kind, status=state, page_size=min(limit, 500)):
                found.append(job)
                if len(found) == limit:
                    break
            return found

        listed = _call(first)
        if as_json:
            _print([job.data for job in listed], True)
        else:
            for job in listed:
                typer.echo(f"{job.data['created_at'][:19]}  {_job_line(job)}")


def _client(url: str, key: str) -> Client:
    if not key:
        _usage("no API key: pass --key or set SOLVENT_KEY")
    return Client(url, key, max_retries=int(os.environ.get("SOLVENT_CLIENT_RETRIES", "5")))


def _call(action: Callable[[], T]) -> T:
    """Run a client call; API and connection errors become a message and an exit code."""
    try:
        return action()
    except WaitTimeout:
        raise
    except ApiError as exc:
        typer.echo(f"error: {exc.status} {exc.title}: {exc.detail}", err=True)
        for problem in exc.errors:
            typer.echo(f"  at {'/'.join(str(p) for p in problem.get('loc', []))}: {problem.get('msg')}", err=True)
        raise typer.Exit(EXIT_USAGE if exc.status in USAGE_STATUSES else EXIT_FAILED) from None
    except (ValueError, OSError) as exc:  # an unreadable file or a name with no instance format
        _usage(str(exc))
    except (httpx.HTTPError, SolventError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def _wait(job: Job, timeout: float | None, live: bool) -> Job:
    """Wait for the job; a live progress line on stderr when showing text."""
    try:
        if not live or not err.is_terminal:
            return _call(lambda: job.wait(timeout))
        with Live(Text(""), console=err, refresh_per_second=8, transient=True) as line:
            return _call(lambda: job.wait(timeout, progress=lambda j: line.update(Text(_job_line(j)))))
    except WaitTimeout:
        typer.echo(f"timed out after {timeout} s; job {job.id} goes on (solvent status {job.id})", err=True)
        raise typer.Exit(EXIT_TIMEOUT) from None


def _finish(job: Job, as_json: bool) -> NoReturn:
    """Print the job's result (or why there is none) and exit with the job's code."""
    if job.status == "failed":
        error = job.data.get("error") or {}
        if as_json:
            _print(job.data, True)
        else:
            typer.echo(f"job {job.id} failed ({error.get('code')}): {error.get('message')}", err=True)
        raise typer.Exit(EXIT_FAILED)
    try:
        answer: Result = job.result()
    except JobFailed as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except ApiError as exc:
        typer.echo(f"job {job.id} is {job.status}: {exc.detail}", err=True)
        raise typer.Exit(EXIT_FAILED if job.finished else EXIT_USAGE) from None
    _print(answer.raw if as_json else _result_text(answer), as_json)
    raise typer.Exit(EXIT_OK if job.status == "succeeded" else EXIT_FAILED)


def _job_line(job: Job) -> str:
    progress = job.progress
    parts = [job.id, f"{job.status:<9}", f"{job.kind}/{job.solver}"]
    if "elapsed_s" in progress:
        parts.append(f"elapsed {progress['elapsed_s']:.1f} s")
    for name, label in (("objective", "incumbent"), ("bound", "bound")):
        if progress.get(name) is not None:
            parts.append(f"{label} {progress[name]:.10g}")
    if progress.get("gap") is not None:
        parts.append(f"gap {100 * progress['gap']:.3g} %")
    return "  ".join(parts)


def _event_line(event: Event) -> str:
    data = event.data
    if event.type == "log":  # the solver's own log: one event carries several lines
        head = f"{event.seq:>4} log       {event.at[11:23]}  "
        lines = str(data.get("message", "")).splitlines() or [""]
        return "\n".join([head + lines[0], *(" " * len(head) + line for line in lines[1:])])
    fields = "  ".join(f"{k}={v:.10g}" if isinstance(v, float) else f"{k}={v}" for k, v in data.items())
    return f"{event.seq:>4} {event.type:<9} {event.at[11:23]}  {fields}"


def _result_text(answer: Result) -> str:
    checked = answer.verification
    lines = [
        f"status       {answer.status} ({answer.termination})",
        f"objective    {_number(answer.objective)}",
        f"bound        {_number(answer.bound)}",
        f"gap          {_number(answer.gap)}",
        f"verification {'feasible' if checked.get('feasible') else 'NOT feasible'}, "
        f"objective {_number(checked.get('objective'))}, max violation {_number(checked.get('max_violation'))}",
    ]
    return "\n".join([*lines, "solution", *_solution_lines(answer.solution)])


def _solution_lines(solution: dict[str, Any], most: int = 40) -> list[str]:
    """The solution for a person: a mapping one entry a line, anything else as compact JSON; --json has all."""
    lines: list[str] = []
    for name, value in solution.items():
        if isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
            lines.append(f"  {name}")
            lines += [f"    {k:<16} {_number(v) if isinstance(v, float) else v}" for k, v in value.items()]
        else:
            text = json.dumps(value, separators=(", ", ": "))
            lines.append(f"  {name:<12} {text if len(text) <= 200 else text[:200] + ' …'}")
    return lines if len(lines) <= most else [*lines[:most], f"  … {len(lines) - most} more lines (--json)"]


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.10g}"


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    """k=v arguments as a dict; values read as JSON where they parse (60, 1e-4, true), else as text."""
    pairs: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            _usage(f"{flag} takes name=value, not {item!r}")
        try:
            pairs[name] = json.loads(text)
        except ValueError:
            pairs[name] = text
    return pairs


def _print(value: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(value, indent=2) + "\n")
    else:
        typer.echo(str(value))


def _usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)
