"""`intake`: run and look after the server. Configuration comes from the
`INTAKE_*` environment (see `app.settings.Settings`)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

import crypto
from app.settings import Settings

# uvicorn's access log would record every client address: it is off, and its
# logger has no handler even if something turns it on.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact": {"()": "app.logredact.RedactAddresses"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "intake": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            click.echo(f"intake: error: {where}: {error['msg']}", err=True)
        click.echo("intake: hint: settings come from INTAKE_* environment variables", err=True)
        sys.exit(2)


def _fail(message: str, hint: str | None = None) -> None:
    click.echo(f"intake: error: {message}", err=True)
    if hint:
        click.echo(f"intake: hint: {hint}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Intake server administration."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    from app.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the server (behind Caddy/Tor; no access log, no client addresses)."""
    import uvicorn

    from app.main import create_app
    from app.maintenance import database_revision
    from app.runtime import build_runtime

    settings = _settings()
    runtime = build_runtime(settings)
    current, head = database_revision(runtime)
    if current != head:
        _fail(f"database at revision {current}, code expects {head}", "run `intake migrate`")
    config = dict(LOG_CONFIG)
    config["loggers"] = {**LOG_CONFIG["loggers"]}
    config["loggers"]["intake"] = {**LOG_CONFIG["loggers"]["intake"], "level": settings.log_level}
    uvicorn.run(
        create_app(settings, runtime),
        host=host,
        port=port,
        access_log=False,
        proxy_headers=False,  # never read X-Forwarded-For: we do not want the address
        server_header=False,
        ws="none",  # no websockets (their log lines carry client addresses)
        log_config=config,
    )


@main.group()
def manifests() -> None:
    """Key manifests held by the server."""


@manifests.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_manifest(file: Path) -> None:
    """Accept a signed manifest (genesis or successor), verified as POST does."""
    from app.db import transaction
    from app.errors import IntakeError
    from app.manifests import service
    from app.runtime import build_runtime

    settings = _settings()
    runtime = build_runtime(settings)
    try:
        envelope = crypto.load_json(file.read_bytes())
    except ValueError:
        _fail(f"{file} is not JSON (or nests deeper than any manifest does)")
    if not isinstance(envelope, dict):
        _fail(f"{file} is not a DSSE envelope")
    try:
        with transaction(runtime.session_factory) as session:
            manifest = service.accept(session, settings, runtime.manifests, envelope)
    except IntakeError as exc:
        hint = None
        if exc.code == "trust-root-missing":
            hint = 'set INTAKE_TRUST_ROOT to {"threshold": n, "admins": [kid, ...]}'
        _fail(f"{file}: {exc.text}", hint)
    finally:
        runtime.close()
    click.echo(
        f"accepted manifest version {manifest.version}, fingerprint {manifest.fingerprint}, "
        f"key-set fingerprint {manifest.key_set_fingerprint}"
    )


@manifests.command("list")
def list_manifests() -> None:
    """Show the stored chain."""
    from app import clock
    from app.db import read_session
    from app.manifests import service
    from app.runtime import build_runtime

    runtime = build_runtime(_settings())
    with read_session(runtime.engine) as session:
        for row in service.chain_rows(session):
            manifest = runtime.manifests.parse(row)
            click.echo(
                f"version {manifest.version}  expires {clock.rfc3339(manifest.expires)}  "
                f"fingerprint {manifest.fingerprint}  "
                f"key set {manifest.key_set_fingerprint}"
            )
    runtime.close()


@main.command()
def purge() -> None:
    """Apply retention rules and remove leftovers. Safe to run often (cron)."""
    from app.maintenance import purge as run_purge
    from app.runtime import build_runtime

    runtime = build_runtime(_settings())
    try:
        report = run_purge(runtime)
    finally:
        runtime.close()
    click.echo(json.dumps(report.as_dict(), sort_keys=True))


@main.command()
def status() -> None:
    """Schema revision, manifests, counts and free space, as JSON."""
    from app.maintenance import status as get_status
    from app.runtime import build_runtime

    runtime = build_runtime(_settings())
    try:
        info = get_status(runtime)
    finally:
        runtime.close()
    click.echo(json.dumps(info, indent=2, sort_keys=True))
    if not info["database"]["up_to_date"]:
        _fail("database schema is not up to date", "run `intake migrate`")


@main.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (must not exist).",
)
def backup(out: Path) -> None:
    """Write a consistent archive of the database and blobs (safe while serving).

    It holds ciphertext and bookkeeping only, never a key: safe to copy off-site.
    """
    from app.backup import BackupError
    from app.backup import backup as run_backup
    from app.runtime import build_runtime

    runtime = build_runtime(_settings())
    try:
        report = run_backup(runtime, out)
    except BackupError as exc:
        hint = None
        if "already exists" in str(exc):
            hint = "choose a new file name; a backup never overwrites another"
        _fail(str(exc), hint)
    finally:
        runtime.close()
    click.echo(json.dumps(report.as_dict(), sort_keys=True))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Restore FILE (made by `intake backup`) into an empty database and blob store.

    Every member is checked against the archive's manifest and every blob
    against its digest before anything is written; stop the server first.
    """
    from app.backup import BackupError, TargetNotEmpty
    from app.backup import restore as run_restore
    from app.runtime import build_runtime

    runtime = build_runtime(_settings())
    try:
        report = run_restore(runtime, file)
    except TargetNotEmpty as exc:
        _fail(
            str(exc),
            "restore only into a new, empty database and an empty INTAKE_BLOB_DIR",
        )
    except BackupError as exc:
        _fail(f"{file}: {exc}")
    finally:
        runtime.close()
    click.echo(json.dumps(report.as_dict(), sort_keys=True))


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    main()
