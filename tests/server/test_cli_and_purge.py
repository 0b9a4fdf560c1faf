"""`intake` commands, and retention (`intake purge`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import POW_SECRET, FreshDatabase
from server_helpers import (
    World,
    attachment_id,
    courier_post,
    create,
    make_reply,
    put,
    seal,
    submit,
)

import crypto
from app import clock
from app.cli import main
from app.maintenance import purge
from app.runtime import build_runtime
from app.settings import Settings
from app.storage import upload_id

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _env(database_url: str, tmp_path: Path, world: World) -> dict[str, str]:
    return {
        "INTAKE_DATABASE_URL": database_url,
        "INTAKE_BLOB_DIR": str(tmp_path / "blobs"),
        "INTAKE_ENVIRONMENT": "test",
        "INTAKE_POW_SECRET": POW_SECRET,
        "INTAKE_TRUST_ROOT": world.trust_root(),
        "INTAKE_MIN_FREE_BYTES": "0",
    }


def test_migrate_import_list_status_on_a_fresh_database(
    fresh_databases: FreshDatabase, tmp_path: Path, world: World
) -> None:
    runner = CliRunner()
    env = _env(fresh_databases.new(), tmp_path, world)
    behind = runner.invoke(main, ["status"], env=env)
    assert behind.exit_code == 1
    assert "intake migrate" in behind.output

    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(world.manifest(1)))
    imported = runner.invoke(main, ["manifests", "import", str(genesis)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "accepted manifest version 1" in imported.output
    again = runner.invoke(main, ["manifests", "import", str(genesis)], env=env)
    assert again.exit_code == 1
    assert "rollback" in again.output

    listed = runner.invoke(main, ["manifests", "list"], env=env)
    assert "version 1" in listed.output
    status = runner.invoke(main, ["status"], env=env)
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert info["database"]["up_to_date"] is True
    assert info["manifest"]["latest"] == 1
    purged = runner.invoke(main, ["purge"], env=env)
    assert purged.exit_code == 0
    assert json.loads(purged.output)["abandoned_uploads"] == 0


def test_genesis_import_without_trust_root_explains_what_to_set(
    migrated_url: str, database_url: str, tmp_path: Path, world: World
) -> None:
    env = _env(database_url, tmp_path, world)
    del env["INTAKE_TRUST_ROOT"]
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(world.manifest(1)))
    result = CliRunner().invoke(main, ["manifests", "import", str(genesis)], env=env)
    assert result.exit_code == 1
    assert "INTAKE_TRUST_ROOT" in result.output


def test_a_manifest_file_nested_too_deep_is_refused_with_a_message_not_a_traceback(
    migrated_url: str, database_url: str, tmp_path: Path, world: World
) -> None:
    hostile = tmp_path / "hostile.json"
    hostile.write_text('{"payload": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = CliRunner().invoke(
        main, ["manifests", "import", str(hostile)], env=_env(database_url, tmp_path, world)
    )
    assert result.exit_code == 1
    assert "is not JSON" in result.output
    assert not isinstance(result.exception, RecursionError)


def test_bad_settings_are_reported_not_traced(tmp_path: Path) -> None:
    env = {"INTAKE_POW_SECRET": "changeme", "INTAKE_ENVIRONMENT": "production"}
    result = CliRunner().invoke(main, ["status"], env=env)
    assert result.exit_code == 2
    assert "INTAKE_POW_SECRET" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_logs_no_requests_and_no_client_addresses(
    database_url: str, tmp_path: Path, world: World
) -> None:
    env = {**os.environ, **_env(database_url, tmp_path, world)}
    port = _free_port()
    intake = Path(sys.executable).with_name("intake")
    process = subprocess.Popen(
        [str(intake), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/manifests",
                    headers={"X-Forwarded-For": "203.0.113.77"},
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        httpx.get(f"http://127.0.0.1:{port}/nowhere")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    text = output.decode()
    assert "Uvicorn running" in text or "Application startup complete" in text
    assert "/api/v1/manifests" not in text
    assert "/nowhere" not in text
    assert "203.0.113.77" not in text
    # No address at all, not even the bind address: the handler redacts them all.
    assert "127.0.0.1" not in text
    assert f"[address]:{port}" in text


@pytest.mark.usefixtures("ready")
def test_purge_removes_abandoned_uploads_and_expired_records(
    client: TestClient,
    make_settings: Callable[..., Settings],
    world: World,
    genesis: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = make_settings()
    form = seal(genesis, b"abandoned" * 1000)
    abandoned = create(client, {"form": form}).json()["id"]
    put(client, abandoned, "form", 0, form[:4000])
    kept = submit(
        client,
        {"form": seal(genesis, b"kept"), attachment_id(1): seal(genesis, b"a", kind="attachment")},
    )
    courier_post(
        client, world, "/api/v1/courier/receipts", {"type": "intake/receipts", "receipts": []}
    )

    runtime = build_runtime(settings)
    try:
        # Nothing is due yet: purge changes nothing.
        assert purge(runtime).abandoned_uploads == 0
        assert runtime.blobs.partial_size(upload_id(abandoned, "form")) == 4000

        later = clock.now() + timedelta(hours=settings.upload_expiry_hours + 2)
        report = purge(runtime, now=later)
        assert report.abandoned_uploads == 1
        assert report.partials == 1
        assert report.expired_signatures >= 1
        assert runtime.blobs.partial_size(upload_id(abandoned, "form")) == 0
    finally:
        runtime.close()
    assert client.get(f"/api/v1/submissions/{abandoned}/envelopes/form").status_code == 404
    # The complete submission is untouched.
    assert client.post(f"/api/v1/submissions/{kept}/finalise").status_code == 200
    assert len(list((tmp_path / "blobs" / "objects").glob("*/*"))) == 2


@pytest.mark.usefixtures("ready")
def test_purge_finishes_a_completion_interrupted_between_row_and_bytes(
    client: TestClient, make_settings: Callable[..., Settings], genesis: dict[str, Any]
) -> None:
    """A crash after the row says complete but before the partial moved."""
    settings = make_settings()
    form = seal(genesis, b"interrupted")
    sid = create(client, {"form": form}).json()["id"]
    assert put(client, sid, "form", 0, form).json() == {"offset": len(form)}
    runtime = build_runtime(settings)
    try:
        from app.models import Envelope

        with runtime.session_factory() as session:
            digest = session.get(Envelope, (sid, "form")).digest  # type: ignore[union-attr]
        assert digest is not None
        # Put the state back to "row updated, bytes still in the partial".
        with runtime.blobs.open(digest) as src:
            data = src.read()
        runtime.blobs.delete(digest)
        with runtime.blobs.append(upload_id(sid, "form"), 0) as out:
            out.write(data)
        report = purge(runtime)
        assert report.repaired == 1
        with runtime.blobs.open(digest) as src:
            assert src.read() == form
    finally:
        runtime.close()


@pytest.mark.usefixtures("ready")
def test_purge_deletes_replies_only_after_their_retention(
    client: TestClient,
    make_settings: Callable[..., Settings],
    world: World,
    genesis: dict[str, Any],
) -> None:
    item, keys = make_reply(
        world, genesis, "kilo lima mike november oscar papa quebec romeo sierra"
    )
    courier_post(
        client, world, "/api/v1/courier/replies", {"type": "intake/replies", "replies": [item]}
    )
    token = {"token": crypto.b64e(keys.token)}
    settings = make_settings()
    month = timedelta(days=settings.reply_retention_days + 1)
    runtime = build_runtime(settings)
    try:
        assert purge(runtime, now=clock.now() + month).replies == 0  # unread: kept
        assert len(client.post("/api/v1/mailbox", json=token).json()["replies"]) == 1
        assert purge(runtime).replies == 0  # just read: kept
        assert purge(runtime, now=clock.now() + month).replies == 1
    finally:
        runtime.close()
    assert client.post("/api/v1/mailbox", json=token).json() == {"replies": []}
