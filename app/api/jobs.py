"""Job endpoints of API.md: submit, get, list, result, events (JSON and SSE), cancel, delete, SVG."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import math
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import IntegrityError
from sse_starlette import EventSourceResponse

from app import broker, quotas, store, submission, webhooks
from app.db import ACTIVE, FINISHED, Job, JobStatus, get_sessionmaker
from app.deps import HeavyRequest, SessionDep, TenantDep
from app.errors import ProblemError
from app.openapi import StatusName
from app.settings import get_settings
from solvers.base import InvalidInstance, Kind, SolverSpec, errors_from_validation
from solvers.registry import KIND_MODULES, get_kind

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

MAX_METADATA_BYTES = 8 * 1024
MAX_SEQ = 2**63 - 1  # event sequence numbers are 64-bit signed integers in the database
TIME_FILTER = "ISO 8601 date-time; UTC when no offset is given."


class JobRequest(BaseModel):
    """A submission. Only these fields are accepted; tenant, status and attempts are the server's."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Problem kind, see GET /v1/kinds.")
    instance: dict[str, Any] = Field(description="The kind's instance, see GET /v1/kinds/{kind}.")
    solver: str = Field("auto", max_length=64, description="'auto' or a solver name of the kind.")
    options: dict[str, Any] = Field(default_factory=dict, description="Solver options (time_limit_s, rel_gap, seed…).")
    priority: int = Field(0, ge=-10, le=10, description="Higher runs first among the tenant's queued jobs of a kind.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Client data, at most 8 KiB as JSON.")
    webhook_url: str | None = Field(
        None,
        max_length=2048,
        description="POSTed a signed job summary when the job ends (else the tenant's default, if any).",
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is over {MAX_METADATA_BYTES} bytes as JSON")
        return value


def non_finite_at(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where a NaN or an infinity sits in parsed JSON (Python's parser accepts them; JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return loc
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = non_finite_at(item, (*loc, key))
        if found is not None:
            return found
    return None


def job_links(job_id: uuid.UUID) -> dict[str, str]:
    """Hypermedia links of a job."""
    base = f"/v1/jobs/{job_id}"
    return {"self": base, "result": f"{base}/result", "events": f"{base}/events"}


def job_to_dict(job: Job | submission.CreatedJob) -> dict[str, Any]:
    """The job object of API.md."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "solver": job.solver,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "attempts": job.attempts,
        "priority": job.priority,
        "options": job.options,
        "metadata": job.client_metadata,
        "progress": job.progress,
        "error": job.error,
        "warnings": job.warnings or [],
        "webhook_url": job.webhook_url,
        "instance_summary": job.instance_summary,
        "links": job_links(job.id),
    }


def lookup_kind(name: str) -> Kind:
    """The registered kind, or 404."""
    if name not in KIND_MODULES:
        raise ProblemError(404, f"Unknown kind {name!r}; known kinds: {', '.join(KIND_MODULES)}.")
    return get_kind(name)


_LINE = re.compile(r"^line (\d+)\b")


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def uniform_loc(raw: Any, loc: list[Any], msg: str) -> list[Any]:
    """One ``loc`` convention for every kind: the JSON path into the instance (a tagged union's tag, which
    is no key of the instance, left out), then for an error inside a text field (an MPS or LP model, an
    A&D file, a CSV) the 1-based line number as an integer, e.g. ["model", 6]."""
    path: list[Any] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and part == node.get("format"):
            continue  # the union's tag ("json"), a schema detail
        if isinstance(part, str) and (line := _LINE.match(part)) and part == line.group(0):
            part = int(line.group(1))
        path.append(part)
        node = _child(node, part)
    if isinstance(node, str) and path and not isinstance(path[-1], int) and (line := _LINE.match(msg)):
        path.append(int(line.group(1)))
    return path


def parse_instance(kind: Kind, raw: Any, loc_prefix: tuple[str, ...] = ("instance",)) -> Any:
    """The kind's parsed instance, or 422 with every field error located in the request."""
    try:
        return kind.parse(raw)
    except InvalidInstance as exc:
        errors = [
            {"loc": [*loc_prefix, *uniform_loc(raw, list(e["loc"]), e["msg"])], "msg": e["msg"]} for e in exc.errors
        ]
        raise ProblemError(422, f"The {kind.name} instance is invalid; see errors.", errors=errors) from exc


def validate_options(spec: SolverSpec, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Solver options with defaults filled in and the time limit capped by server config, and warnings
    saying what was changed; 422 if invalid or if a common option means nothing to this solver."""
    settings = get_settings()
    unused = sorted(spec.options.unused_common & raw.keys())
    if unused:
        errors = [{"loc": ["options", name], "msg": f"solver {spec.name!r} does not use {name}"} for name in unused]
        raise ProblemError(422, f"Solver {spec.name!r} has no use for {', '.join(unused)}.", errors=errors)
    raw = {"time_limit_s": settings.default_time_limit_s, **raw}
    try:
        options = spec.options.model_validate(raw)
    except ValidationError as exc:
        errors = errors_from_validation(exc, prefix=("options",))
        raise ProblemError(422, "The solver options are invalid; see errors.", errors=errors) from exc
    warnings = []
    if options.time_limit_s > settings.max_time_limit_s:
        warnings.append(
            f"time_limit_s {options.time_limit_s:g} is over this server's cap; the job runs with "
            f"{settings.max_time_limit_s:g}"
        )
        options.time_limit_s = settings.max_time_limit_s
    return options.model_dump(mode="json"), warnings


@dataclass(frozen=True)
class CheckedRequest:
    """A job request that passed every check but the tenant's quota: what would be stored."""

    kind: Kind
    instance: Any
    solver: SolverSpec
    options: dict[str, Any]
    warnings: list[str]


def check_request(kind_name: str, raw_instance: Any, solver: str, raw_options: dict[str, Any]) -> CheckedRequest:
    """Kind, instance, solver and options checked as a submission checks them (404 or 422 otherwise)."""
    kind = lookup_kind(kind_name)
    instance = parse_instance(kind, raw_instance)
    try:
        spec = kind.solver(solver, instance)
    except KeyError as exc:
        raise ProblemError(
            404,
            f"Unknown solver {solver!r} for kind {kind.name!r}; known: auto, {', '.join(kind.solvers)}.",
        ) from exc
    refused = kind.refusal(instance, spec.name) if kind.refusal is not None else None
    if refused:
        raise ProblemError(
            422,
            f"Solver {spec.name!r} cannot take this instance: {refused}",
            errors=[{"loc": ["solver"], "msg": refused}],
        )
    options, warnings = validate_options(spec, raw_options)
    return CheckedRequest(kind, instance, spec, options, warnings)


def check_webhook_url(url: str, loc: tuple[str, ...]) -> None:
    """422 unless the URL may be called (http(s), resolving only to addresses the operator allows)."""
    try:
        webhooks.check_url(url, webhooks.parse_networks(get_settings().webhook_allow_networks))
    except webhooks.UnsafeWebhookUrl as exc:
        raise ProblemError(
            422, f"The webhook URL is refused: {exc}.", errors=[{"loc": list(loc), "msg": str(exc)}]
        ) from exc


def _get_job_or_404(session: SessionDep, tenant_id: int, job_id: uuid.UUID) -> Job:
    try:
        return store.get_job(session, tenant_id, job_id)
    except store.JobNotFound as exc:
        raise ProblemError(404, f"No job {job_id}.") from exc


#: A submission whose body is at most this large is validated on the event loop (a tiny model takes well
#: under a millisecond; a thread hand-off costs more); a larger one in a thread, so parsing a big model
#: never stalls other requests.
INLINE_VALIDATION_BYTES = 64 * 1024


@router.post("", status_code=202, summary="Submit a job", dependencies=[HeavyRequest])
async def submit_job(
    body: JobRequest,
    tenant_id: TenantDep,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """Validate the instance and options, store the job (one database round trip), then ring the doorbell.

    The request body is decoded once (by FastAPI), the instance parsed once (by the kind) and
    serialized once (stored as is). The doorbell is rung after the answer by the event loop's ringer
    (``broker.ring_soon``); a job whose ring is lost is rung again by the reaper.
    """
    length = request.headers.get("content-length")
    inline = length is not None and length.isdigit() and int(length) <= INLINE_VALIDATION_BYTES
    request_hash = request_fingerprint(body) if inline else await run_in_threadpool(request_fingerprint, body)
    try:
        new = (
            new_job(body, request_hash, idempotency_key)
            if inline
            else await run_in_threadpool(new_job, body, request_hash, idempotency_key)
        )
    except ProblemError:
        if idempotency_key is None:
            raise
        previous = await run_in_threadpool(submission.find_previous, tenant_id, idempotency_key)
        if previous is None:
            raise
        return _idempotent_repeat(previous, request_hash, response)  # a repeat is answered as it was first
    submitted = await submission.submit(tenant_id, new)
    if submitted.outcome is submission.Outcome.OVER_QUOTA:
        quota = get_settings().tenant_max_active_jobs
        raise ProblemError(
            429,
            f"This tenant already has {quota} queued or running jobs, its quota.",
            headers={"Retry-After": str(get_settings().retry_after_s)},
        )
    if submitted.outcome is submission.Outcome.EXISTING:
        if submitted.previous is None:  # deleted (its time-to-live ended) between the two lookups
            raise ProblemError(409, "This Idempotency-Key belongs to a job that was just deleted; use a new key.")
        return _idempotent_repeat(submitted.previous, request_hash, response)
    job = submitted.created
    assert job is not None, "a submission within quota either repeats an earlier one or creates a job"
    broker.ring_soon(job.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_to_dict(job)


def request_fingerprint(body: JobRequest) -> str:
    """The request's hash, which tells an Idempotency-Key's repeat from its misuse; 422 on NaN or Infinity."""
    fields = body.model_dump()
    bad_number = non_finite_at(fields)
    if bad_number is not None:
        raise ProblemError(
            422, "NaN and Infinity are not JSON numbers.", errors=[{"loc": list(bad_number), "msg": "not finite"}]
        )
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def new_job(body: JobRequest, request_hash: str, idempotency_key: str | None) -> store.NewJob:
    """The job to store, once kind, instance, solver, options and webhook passed their checks (404 or 422)."""
    checked = check_request(body.kind, body.instance, body.solver, body.options)
    if body.webhook_url is not None:
        check_webhook_url(body.webhook_url, ("webhook_url",))
    return store.NewJob(
        kind=checked.kind.name,
        solver=checked.solver.name,
        instance_json=json.dumps(body.instance),
        options=checked.options,
        warnings=checked.warnings,
        priority=body.priority,
        metadata=body.metadata,
        idempotency_key=idempotency_key,
        request_hash=request_hash if idempotency_key else None,
        webhook_url=body.webhook_url,
        instance_summary=checked.kind.summary(checked.instance),
    )


def _idempotent_repeat(previous: Job, request_hash: str, response: Response) -> dict[str, Any]:
    if previous.request_hash != request_hash:
        raise ProblemError(409, "This Idempotency-Key was already used with a different request body.")
    response.status_code = 200
    response.headers["Location"] = f"/v1/jobs/{previous.id}"
    return job_to_dict(previous)


@router.get("", summary="List jobs, newest first")
def list_jobs(
    session: SessionDep,
    tenant_id: TenantDep,
    kind: str | None = None,
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    solver: str | None = None,
    created_after: Annotated[
        str | None, Query(description=TIME_FILTER, json_schema_extra={"format": "date-time"})
    ] = None,
    created_before: Annotated[
        str | None, Query(description=TIME_FILTER, json_schema_extra={"format": "date-time"})
    ] = None,
) -> dict[str, Any]:
    """A page of the tenant's jobs (filtered by kind, status, solver and creation time) and the next cursor."""
    decoded = None
    if cursor:
        try:
            decoded = store.decode_cursor(cursor)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProblemError(
                422, "Malformed cursor.", errors=[{"loc": ["query", "cursor"], "msg": "malformed"}]
            ) from exc
    jobs, next_cursor = store.list_jobs(
        session,
        tenant_id,
        kind=kind,
        status=status,
        limit=limit,
        cursor=decoded,
        solver=solver,
        created_after=_parse_time(created_after, "created_after"),
        created_before=_parse_time(created_before, "created_before"),
    )
    return {"items": [job_to_dict(j) for j in jobs], "next_cursor": next_cursor}


def _parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when it has no offset), or 422; numbers are not taken as Unix times."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProblemError(
            422,
            f"{name} is not an ISO 8601 date-time.",
            errors=[{"loc": ["query", name], "msg": "expected an ISO 8601 date-time such as 2026-12-04T15:00:00Z"}],
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@router.get("/{job_id}", summary="Get a job")
def get_job(job_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> dict[str, Any]:
    """The job object."""
    return job_to_dict(_get_job_or_404(session, tenant_id, job_id))


def _result_or_409(session: SessionDep, job: Job) -> dict[str, Any]:
    result = store.get_result(session, job.id) if job.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED) else None
    if result is None:
        detail = f"The job is {job.status}; there is no result"
        detail += " yet." if job.status in ACTIVE else "."
        raise ProblemError(409, detail)
    return {"job_id": str(job.id), "kind": job.kind, "solver": job.solver, **result.data}


RESULT_JSON, RESULT_SVG = "result.json", "result.svg"


def _stored_rendering(
    session: SessionDep, job: Job, name: str, media_type: str, accept_encoding: str | None, build: Callable[[], bytes]
) -> Response:
    """A finished job's rendering, built (by ``build``, which answers 409 before the job has a result) on the
    first request only and kept gzip-compressed in the database.

    Sent as stored (``Content-Encoding: gzip``) to clients that accept gzip, else decompressed in chunks.
    """
    gzipped = store.get_rendering(session, job.id, name)
    if gzipped is None:
        gzipped = gzip.compress(build(), compresslevel=1)
        try:
            store.add_rendering(session, job.id, name, gzipped)
            session.commit()
        except IntegrityError:  # a concurrent first request stored it first; same bytes
            session.rollback()
    headers = {"Vary": "Accept-Encoding"}
    if _accepts_gzip(accept_encoding or ""):
        return Response(gzipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return StreamingResponse(_gunzip_chunks(gzipped), media_type=media_type, headers=headers)


def _accepts_gzip(accept_encoding: str) -> bool:
    for coding in accept_encoding.lower().split(","):
        name, _, params = coding.partition(";")
        refused = re.fullmatch(r"q=0(\.0*)?", params.replace(" ", ""))
        if name.strip() in ("gzip", "*") and not refused:
            return True
    return False


def _gunzip_chunks(gzipped: bytes, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    with gzip.GzipFile(fileobj=io.BytesIO(gzipped)) as unzipped:
        while chunk := unzipped.read(chunk_bytes):
            yield chunk


@router.get(
    "/{job_id}/result",
    summary="Get a job's result",
    dependencies=[HeavyRequest],
    responses={200: {"content": {"application/json": {}}}},
)
def get_result(
    job_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The result once succeeded (or the best result of a cancelled job); 409 otherwise."""
    job = _get_job_or_404(session, tenant_id, job_id)
    return _stored_rendering(
        session,
        job,
        RESULT_JSON,
        "application/json",
        accept_encoding,
        lambda: json.dumps(_result_or_409(session, job)).encode(),
    )


@router.get("/{job_id}/result.svg", summary="Draw a job's result", response_class=Response, dependencies=[HeavyRequest])
def get_result_svg(
    job_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """An SVG picture of the result, for kinds that draw one."""
    job = _get_job_or_404(session, tenant_id, job_id)
    kind = lookup_kind(job.kind)
    render_svg = kind.render_svg
    if render_svg is None:
        raise ProblemError(404, f"Kind {job.kind!r} has no picture.")

    def draw() -> bytes:
        return render_svg(kind.parse(json.loads(job.instance)), _result_or_409(session, job)).encode()

    return _stored_rendering(session, job, RESULT_SVG, "image/svg+xml", accept_encoding, draw)


def _event_dict(event: Any) -> dict[str, Any]:
    return {"seq": event.seq, "at": event.at.isoformat(), "type": event.type, "data": event.data}


@router.get("/{job_id}/events", summary="List a job's events")
def list_events(
    job_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Events with seq > after, in order."""
    job = _get_job_or_404(session, tenant_id, job_id)
    return {"items": [_event_dict(e) for e in store.list_events(session, job.id, after, limit)]}


@router.get("/{job_id}/events/stream", summary="Stream a job's events (Server-Sent Events)")
def stream_events(
    job_id: uuid.UUID,
    tenant_id: TenantDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_SEQ)] = None,
) -> EventSourceResponse:
    """The job's events live, ending after the job ends.

    No database connection is held while the stream is open: the job is looked up, and each poll runs,
    in a short session of its own. Each tenant may hold ``tenant_max_streams`` streams per API process.
    """
    with get_sessionmaker()() as session:
        job_id = _get_job_or_404(session, tenant_id, job_id).id
    release = quotas.EVENT_STREAMS.acquire(tenant_id, get_settings().tenant_max_streams)
    start = max(after, last_event_id or 0)

    def poll(seq: int) -> tuple[list[dict[str, Any]], bool]:
        with get_sessionmaker()() as s:
            events = [_event_dict(e) for e in store.list_events(s, job_id, seq)]
            current = s.get(Job, job_id)
            finished = current is None or current.status in FINISHED
            if finished and events:
                finished = False  # drain first, then end on the next empty poll
            return events, finished

    async def generate() -> AsyncIterator[dict[str, Any]]:
        seq = start
        try:
            while True:
                events, finished = await run_in_threadpool(poll, seq)
                for event in events:
                    seq = event["seq"]
                    yield {"id": str(seq), "event": event["type"], "data": json.dumps(event)}
                if finished:
                    return
                await asyncio.sleep(0.5)
        finally:
            release()

    stream = generate()
    weakref.finalize(stream, release)  # also when the client leaves before the stream ever started
    return EventSourceResponse(stream, ping=15)


@router.post("/{job_id}/cancel", status_code=202, summary="Cancel a job")
def cancel_job(job_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> dict[str, Any]:
    """A queued job never starts; a running one stops within seconds keeping its best incumbent."""
    job = _get_job_or_404(session, tenant_id, job_id)
    try:
        job = store.request_cancel(session, job)
    except ValueError as exc:
        raise ProblemError(409, f"The job is already {job.status}.") from exc
    session.commit()
    return job_to_dict(job)


@router.delete("/{job_id}", status_code=204, summary="Delete a job", response_class=Response)
def delete_job(job_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> Response:
    """Remove the job, its result and its events; a running attempt stops at its next heartbeat."""
    job = _get_job_or_404(session, tenant_id, job_id)
    store.delete_job(session, job)
    session.commit()
    return Response(status_code=204)
