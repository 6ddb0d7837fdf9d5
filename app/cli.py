"""The ``solvent`` command: jobs (submit, wait, results), API keys, migrations and the embedded quick start."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from solvent_client.cli import add_job_commands

app = typer.Typer(help="Solvent: optimization as a service.", no_args_is_help=True)
keys = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")
add_job_commands(app)
tenants = typer.Typer(help="Per-tenant settings: job retention and the default webhook.", no_args_is_help=True)
app.add_typer(tenants, name="tenants")


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="The embedded store of `solvent serve --data-dir` (default: ./var when it holds one and "
        "SOLVENT_DATABASE_URL is unset); otherwise SOLVENT_DATABASE_URL's database."
    ),
]


def use_store(data_dir: Path | None) -> str:
    """Point the settings at the embedded store in data_dir (or ./var) if that is the one meant; its URL."""
    if data_dir is None and "SOLVENT_DATABASE_URL" not in os.environ and (Path("var") / "solvent.sqlite").exists():
        data_dir = Path("var")
    if data_dir is not None:
        if not (data_dir / "solvent.sqlite").exists():
            typer.echo(
                f"error: no embedded store in {data_dir} (start `solvent serve --data-dir {data_dir}`)", err=True
            )
            raise typer.Exit(2)
        embedded_environment(data_dir.resolve())
    from app.settings import get_settings

    get_settings.cache_clear()
    return get_settings().database_url


def embedded_environment(data_dir: Path) -> None:
    """The settings of the embedded mode: SQLite store and broker in data_dir, a secret kept there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "api_key_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    os.environ.update(
        SOLVENT_DATABASE_URL=f"sqlite:///{data_dir / 'solvent.sqlite'}",
        SOLVENT_BROKER_URL=f"sqla+sqlite:///{data_dir / 'broker.sqlite'}",
        SOLVENT_API_KEY_SECRET=secret_file.read_text().strip(),
        SOLVENT_EMBEDDED="true",
    )


def _database_unreachable(url: str, exc: Exception) -> typer.Exit:
    shown = url.split("@")[-1]
    typer.echo(f"error: cannot reach the database ({shown}): {type(exc).__name__}", err=True)
    typer.echo("  set SOLVENT_DATABASE_URL, or pass --data-dir for the embedded store of `solvent serve`", err=True)
    return typer.Exit(1)


@keys.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if new).")],
    data_dir: DataDir = None,
) -> None:
    """Create an API key for a tenant; the key is printed once and only its hash is stored."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import get_sessionmaker
    from app.security import WeakKeySecret, create_key

    url = use_store(data_dir)
    try:
        with get_sessionmaker()() as session:
            created = create_key(session, tenant)
            session.commit()
    except SQLAlchemyError as exc:
        raise _database_unreachable(url, exc) from None
    except WeakKeySecret as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"tenant: {created.tenant}\nkey id: {created.prefix}\napi key (shown once): {created.key}")


@keys.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List the API keys (their ids, never the keys) with tenant, creation and revocation times."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import ApiKey, Tenant, get_sessionmaker

    url = use_store(data_dir)
    try:
        with get_sessionmaker()() as session:
            rows = session.execute(
                select(ApiKey.prefix, Tenant.name, ApiKey.created_at, ApiKey.revoked_at)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .order_by(ApiKey.created_at)
            ).all()
    except SQLAlchemyError as exc:
        raise _database_unreachable(url, exc) from None
    typer.echo(f"{'key id':<14}  {'tenant':<20}  {'created':<19}  revoked")
    for prefix, tenant, created, revoked in rows:
        when = revoked.isoformat(timespec="seconds")[:19] if revoked else "-"
        typer.echo(f"{prefix:<14}  {tenant:<20}  {created.isoformat(timespec='seconds')[:19]}  {when}")


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (its prefix, e.g. slv_1a2b3c4d).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key by its id."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import get_sessionmaker
    from app.security import revoke_key

    url = use_store(data_dir)
    try:
        with get_sessionmaker()() as session:
            done = revoke_key(session, key_id[:12])
            session.commit()
    except SQLAlchemyError as exc:
        raise _database_unreachable(url, exc) from None
    if not done:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@tenants.command("configure")
def tenants_configure(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if new).")],
    job_ttl_days: Annotated[
        float | None,
        typer.Option(help="Delete finished jobs this many days after they end (0 keeps them; default: server's)."),
    ] = None,
    default_ttl: Annotated[bool, typer.Option(help="Go back to the server's default time-to-live.")] = False,
    webhook_url: Annotated[
        str | None, typer.Option(help="Default webhook of jobs submitted without a webhook_url.")
    ] = None,
    no_webhook: Annotated[bool, typer.Option(help="Remove the default webhook.")] = False,
) -> None:
    """Set a tenant's retention and default webhook."""
    from app import webhooks
    from app.db import get_sessionmaker
    from app.settings import get_settings
    from app.store import get_or_create_tenant

    if webhook_url is not None:
        try:
            webhooks.check_url(webhook_url, webhooks.parse_networks(get_settings().webhook_allow_networks))
        except webhooks.UnsafeWebhookUrl as exc:
            typer.echo(f"webhook URL refused: {exc}", err=True)
            raise typer.Exit(2) from exc
    with get_sessionmaker()() as session:
        row = get_or_create_tenant(session, tenant)
        if default_ttl:
            row.job_ttl_s = None
        elif job_ttl_days is not None:
            row.job_ttl_s = round(job_ttl_days * 86400)
        if no_webhook:
            row.webhook_url = None
        elif webhook_url is not None:
            row.webhook_url = webhook_url
        session.commit()
        ttl = "server default" if row.job_ttl_s is None else f"{row.job_ttl_s} s"
        default_webhook = row.webhook_url or "none"
    typer.echo(f"tenant: {tenant}\njob time-to-live: {ttl}\ndefault webhook: {default_webhook}")


def migrate_database(database_url: str | None = None) -> None:
    """Upgrade the database to the newest schema (alembic upgrade head)."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(toml_file=str(root / "pyproject.toml"))
    if database_url:
        config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


@app.command("migrate")
def migrate() -> None:
    """Upgrade the configured database to the newest schema."""
    migrate_database()
    typer.echo("database is at the newest schema")


def _check_port_free(host: str, port: int) -> None:
    """Exit 1 with a message if host:port cannot be listened on (uvicorn binds it moments later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.echo(
                f"error: cannot listen on {host}:{port}: {exc.strerror}; is another server there? (--port)", err=True
            )
            raise typer.Exit(1) from None


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the embedded database and broker live.")] = Path("var"),
    workers: Annotated[int, typer.Option(help="Concurrent solves in the embedded worker.")] = 1,
) -> None:
    """Embedded quick start: SQLite store, SQLAlchemy broker, one worker; no Postgres or Redis needed."""
    _check_port_free(host, port)  # before anything is minted or started
    data_dir = data_dir.resolve()
    embedded_environment(data_dir)
    from app.db import get_sessionmaker
    from app.security import create_key
    from app.settings import get_settings

    get_settings.cache_clear()
    migrate_database()
    with get_sessionmaker()() as session:
        created = create_key(session, "local")
        session.commit()
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-B",
            "--concurrency", str(workers), "--loglevel", "INFO",
            "--schedule", str(data_dir / "celerybeat-schedule"),
        ],
        start_new_session=True,  # its own group, so stopping it reaches its pool and solve processes
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    url = f"http://{host}:{port}"
    typer.echo(f"\nSolvent (embedded mode) at {url}  — docs at {url}/docs")
    typer.echo(f"API key for tenant 'local': {created.key}")
    typer.echo(f"  export SOLVENT_URL={url} SOLVENT_KEY={created.key}\n")
    import uvicorn

    # uvicorn re-raises a SIGTERM it caught by re-sending it after shutdown, which would kill this process
    # before the `finally` below stops the worker; a SystemExit lets it run.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info")
    finally:
        stop_process_group(worker, grace_s=15)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """In the embedded worker (before exec): SIGKILL when `solvent serve` dies, even by SIGKILL (Linux only)."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the process (Celery's warm shutdown), SIGKILL to whatever is left of its group after grace_s."""
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group, even once the leader has exited
    process.wait()


class TrainCommand(TyperCommand):
    """``solvent train``, whose help names the kinds with a trainer (read from the registry only for the help)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # typer's own click types, which it does not export
        from solvers.registry import trainers

        summary = self.help
        self.help = f"{summary}\n\nKinds with a trainer: {', '.join(trainers())}."
        try:
            super().format_help(ctx, formatter)
        finally:
            self.help = summary


@app.command(
    "train",
    cls=TrainCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train(
    ctx: typer.Context,
    kind: Annotated[
        str, typer.Argument(help="Kind whose learned solver to train (the registry's SolverSpec.trainer).")
    ],
) -> None:
    """Reproduce a learned solver's committed weights (extra options go to the trainer; try --help)."""
    import importlib

    from solvers.registry import trainers

    known = trainers()
    if kind not in known:
        typer.echo(f"no learned solver to train for {kind!r}; known: {', '.join(known)}", err=True)
        raise typer.Exit(2)
    trainer = importlib.import_module(known[kind])
    raise typer.Exit(int(trainer.main(list(ctx.args)) or 0))


def main() -> None:
    """Entry point of the ``solvent`` command."""
    app()


if __name__ == "__main__":
    main()
