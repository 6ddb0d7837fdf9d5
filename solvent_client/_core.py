"""What the sync and async clients share: instances from files, problem documents, retry delays, results."""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from solvent_client.errors import BY_STATUS, ApiError, JobFailed

FINISHED = ("succeeded", "failed", "cancelled")
#: Longest pause between two polls of Job.wait, and between two retries of a 429/503 without Retry-After.
MAX_POLL_S = 2.0
MAX_RETRY_S = 30.0


def instance_from(kind: str, instance: Any) -> dict[str, Any]:
    """The JSON instance for a dict, a file path (by extension) or a typed model (anything with model_dump)."""
    if isinstance(instance, dict):
        return instance
    if isinstance(instance, (str, os.PathLike)):
        return instance_from_file(kind, Path(instance))
    dump = getattr(instance, "model_dump", None)
    if callable(dump):
        dumped: dict[str, Any] = dump(mode="json")
        return dumped
    raise TypeError(f"an instance is a dict, a file path or a typed model, not {type(instance).__name__}")


def instance_from_file(kind: str, path: Path) -> dict[str, Any]:
    """A file as an instance: .json as is, .mps/.lp (also .gz) for milp, .csv for treemap, A&D text for knapsack_2ro."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    extension = (suffixes[:-1] if compressed else suffixes)[-1:] or [""]
    raw = path.read_bytes()
    if extension == [".json"] and not compressed:
        loaded: dict[str, Any] = json.loads(raw)
        return loaded
    if extension[0] in (".mps", ".lp"):
        if kind != "milp":
            raise ValueError(f"{path.name}: an {extension[0]} file is a milp model, not a {kind} instance")
        if compressed:
            model = base64.b64encode(raw).decode()
            return {"format": extension[0][1:], "model": model, "encoding": "gzip+base64"}
        return {"format": extension[0][1:], "model": raw.decode()}
    if compressed:
        raise ValueError(f"{path.name}: only .mps.gz and .lp.gz may be compressed")
    if extension == [".csv"] and kind == "treemap":
        return {"format": "csv", "text": raw.decode()}
    if kind == "knapsack_2ro":
        return {"format": "ad", "text": raw.decode()}
    raise ValueError(f"{path.name}: no {kind} instance format for this file name; pass a .json file or a dict")


def job_request(
    kind: str,
    instance: Any,
    solver: str,
    options: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    priority: int,
) -> dict[str, Any]:
    """The body of POST /v1/jobs."""
    return {
        "kind": kind,
        "instance": instance_from(kind, instance),
        "solver": solver,
        "options": options or {},
        "metadata": metadata or {},
        "priority": priority,
    }


def new_idempotency_key() -> str:
    """A fresh key: retries of one submit() carry the same key, so a lost answer never makes two jobs."""
    return f"solvent-client-{uuid.uuid4()}"


def api_error(response: httpx.Response) -> ApiError:
    """The typed exception for an error answer, with the problem document's fields."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    return BY_STATUS.get(status, ApiError)(
        status=status,
        title=str(body.get("title", response.reason_phrase)),
        detail=str(body.get("detail", response.text[:500])),
        errors=list(body.get("errors") or []),
        type=str(body.get("type", "about:blank")),
        headers=dict(response.headers),
    )


def job_failed(job: dict[str, Any]) -> JobFailed:
    """The exception for a failed job, with its error code and message."""
    error = job.get("error") or {}
    return JobFailed(str(job["id"]), str(error.get("code", "unknown")), str(error.get("message", "")))


def retry_delay(response: httpx.Response | None, attempt: int) -> float:
    """Seconds to wait before retrying: the server's Retry-After if it gave one, else exponential backoff."""
    header = response.headers.get("Retry-After") if response is not None else None
    if header is not None and header.strip().isdigit():
        return min(float(header), MAX_RETRY_S)
    return min(0.5 * 2.0**attempt, MAX_RETRY_S)


def next_poll_interval(interval: float) -> float:
    """Polls start quick (short jobs answer fast) and slow down to MAX_POLL_S."""
    return min(interval * 1.5, MAX_POLL_S)


class JobView:
    """A job object as last fetched (``data``): the read-only fields both Job and AsyncJob show."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __repr__(self) -> str:
        fields = f"id={self.id!r}, kind={self.kind!r}, solver={self.solver!r}, status={self.status!r}"
        return f"{type(self).__name__}({fields})"

    @property
    def id(self) -> str:
        """The job's id."""
        return str(self.data["id"])

    @property
    def kind(self) -> str:
        """The problem kind."""
        return str(self.data["kind"])

    @property
    def solver(self) -> str:
        """The solver (for ``auto``, the one the server chose)."""
        return str(self.data["solver"])

    @property
    def status(self) -> str:
        """queued, running, succeeded, failed or cancelled."""
        return str(self.data["status"])

    @property
    def progress(self) -> dict[str, Any]:
        """The latest elapsed_s, objective, bound and gap ({} before the first incumbent)."""
        return dict(self.data.get("progress") or {})

    @property
    def finished(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status in FINISHED


@dataclass(frozen=True)
class Event:
    """One job event: ``type`` is status, incumbent, bound or log; ``data`` its fields."""

    seq: int
    at: str
    type: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(seq=int(raw["seq"]), at=str(raw["at"]), type=str(raw["type"]), data=dict(raw.get("data") or {}))


@dataclass(frozen=True)
class Result:
    """A job's result: ``status`` is how good the answer is, ``termination`` why the solver stopped."""

    status: str
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    solution: dict[str, Any]
    stats: dict[str, Any]
    verification: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Result:
        return cls(
            status=raw["status"],
            termination=raw["termination"],
            objective=raw.get("objective"),
            bound=raw.get("bound"),
            gap=raw.get("gap"),
            solution=raw.get("solution") or {},
            stats=raw.get("stats") or {},
            verification=raw.get("verification") or {},
            raw=raw,
        )
