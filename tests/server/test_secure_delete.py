"""A deleted, purged or receipted row leaves nothing readable in the SQLite files.

SQLite frees a deleted row's space without overwriting it: left alone, a
seized disk would still hold replies applicants deleted (and envelopes the
verifiers receipted). `PRAGMA secure_delete` on every connection zeroes
freed content, and after each delete (an applicant's, `intake purge`,
receipts) the server empties the write-ahead log that still held the rows.
Real files, real migrations, real deletes through the API and the purge.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from server_helpers import World, courier_post, make_reply, receipts, seal, submit
from sqlalchemy import delete, event

import crypto
from app import clock
from app.db import make_engine, make_session_factory, read_connection, transaction
from app.main import create_app
from app.maintenance import purge
from app.migrate import upgrade
from app.models import Reply
from app.runtime import build_runtime
from app.settings import Settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

CODENAME = "alpha bravo charlie delta echo foxtrot golf hotel india"


def _settings(tmp_path: Path, world: World) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'intake.db'}",
        blob_dir=tmp_path / "blobs",
        environment="test",
        trust_root=world.trust_root(),
        pow_difficulty=0,
        mailbox_pow_difficulty=0,
        pow_secret=SecretStr("a" * 64),
        min_free_bytes=0,
        rate_limit_scale=0,
    )


@contextmanager
def _serving(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> Iterator[tuple[TestClient, Settings]]:
    """A running server on a migrated SQLite file in `tmp_path`, holding the genesis manifest."""
    settings = _settings(tmp_path, world)
    upgrade(settings)
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/v1/manifests", json=genesis).status_code == 201
        yield client, settings


def _push_reply(client: TestClient, world: World, item: dict[str, Any]) -> None:
    document = {"type": "intake/replies", "replies": [item]}
    pushed = courier_post(client, world, "/api/v1/courier/replies", document)
    assert pushed.json() == {"accepted": 1}


def _database_bytes(tmp_path: Path) -> bytes:
    """The database and whatever WAL, shared memory or journal exists beside it."""
    return b"".join(
        path.read_bytes()
        for suffix in ("", "-wal", "-shm", "-journal")
        if (path := tmp_path / f"intake.db{suffix}").is_file()
    )


def _pieces(ciphertext: bytes) -> list[bytes]:
    """32-byte slices: a row split over overflow pages keeps each slice whole or nearly."""
    return [ciphertext[i : i + 32] for i in range(0, len(ciphertext) - 31, 16)]


def _found(pieces: list[bytes], haystack: bytes) -> list[int]:
    return [n for n, piece in enumerate(pieces) if piece in haystack]


def test_every_sqlite_connection_deletes_securely(tmp_path: Path, world: World) -> None:
    engine = make_engine(_settings(tmp_path, world))
    try:
        with read_connection(engine) as first, read_connection(engine) as second:
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_without_secure_delete_a_deleted_reply_would_stay_on_disk(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> None:
    """The control: the search below finds what SQLite leaves when not told
    to overwrite, so its finding nothing means something."""
    settings = _settings(tmp_path, world)
    upgrade(settings)
    item, _keys = make_reply(world, genesis, CODENAME)
    envelope = crypto.b64d(item["envelope"])
    engine = make_engine(settings)
    event.listen(
        engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA secure_delete=OFF")
    )
    try:
        with transaction(make_session_factory(engine)) as session:
            session.add(
                Reply(
                    mailbox=item["mailbox"],
                    envelope=envelope,
                    kid=item["kid"],
                    sig=crypto.b64d(item["sig"]),
                    created=clock.now(),
                )
            )
        with transaction(make_session_factory(engine)) as session:
            session.execute(delete(Reply))
    finally:
        engine.dispose()

    assert _found(_pieces(envelope), _database_bytes(tmp_path)) != []


def test_a_deleted_reply_leaves_no_ciphertext_in_the_database_files(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> None:
    item, keys = make_reply(world, genesis, CODENAME)
    pieces = _pieces(crypto.b64d(item["envelope"]))

    with _serving(tmp_path, world, genesis) as (client, _):
        _push_reply(client, world, item)
        # The search can find it: the reply is on disk before the delete.
        assert _found(pieces, _database_bytes(tmp_path)) != []

        token = crypto.b64e(keys.token)
        deleted = client.post("/api/v1/mailbox/delete", json={"token": token, "all": True})
        assert deleted.json() == {"deleted": 1}, deleted.text
    # The server has stopped: its last connection checkpointed the WAL into
    # the database, and that is what a seized disk holds.

    assert _found(pieces, _database_bytes(tmp_path)) == []


def test_a_deleted_reply_is_gone_from_the_files_while_the_server_still_runs(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> None:
    """A disk seized from the running server: the write-ahead log still held
    the page written when the reply arrived until the delete emptied it."""
    item, keys = make_reply(world, genesis, CODENAME)
    pieces = _pieces(crypto.b64d(item["envelope"]))
    wal = tmp_path / "intake.db-wal"

    with _serving(tmp_path, world, genesis) as (client, _):
        _push_reply(client, world, item)
        # Where SQLite wrote it: the log, not yet the database file.
        assert _found(pieces, wal.read_bytes()) != []

        token = crypto.b64e(keys.token)
        deleted = client.post("/api/v1/mailbox/delete", json={"token": token, "all": True})
        assert deleted.json() == {"deleted": 1}, deleted.text

        assert _found(pieces, _database_bytes(tmp_path)) == []
        assert wal.stat().st_size == 0


def test_a_purged_reply_is_gone_from_the_files_while_the_server_still_runs(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> None:
    """`intake purge` deleting a read reply past its retention empties the log too."""
    item, keys = make_reply(world, genesis, CODENAME)
    pieces = _pieces(crypto.b64d(item["envelope"]))
    wal = tmp_path / "intake.db-wal"

    with _serving(tmp_path, world, genesis) as (client, settings):
        _push_reply(client, world, item)
        token = {"token": crypto.b64e(keys.token)}
        assert len(client.post("/api/v1/mailbox", json=token).json()["replies"]) == 1
        assert _found(pieces, _database_bytes(tmp_path)) != []

        runtime = build_runtime(settings)
        try:
            later = clock.now() + timedelta(days=settings.reply_retention_days + 1)
            assert purge(runtime, now=later).replies == 1
        finally:
            runtime.close()

        assert _found(pieces, _database_bytes(tmp_path)) == []
        assert wal.stat().st_size == 0


def test_a_receipted_submission_is_gone_from_the_files_while_the_server_still_runs(
    tmp_path: Path, world: World, genesis: dict[str, Any]
) -> None:
    """Receipts delete the submission's rows; the log that held them is emptied
    once the answer is sent, so its id no longer links anything on disk."""
    wal = tmp_path / "intake.db-wal"

    with _serving(tmp_path, world, genesis) as (client, _):
        envelope = seal(genesis, b"the form")
        sid = submit(client, {"form": envelope})
        marker = sid.encode()
        assert marker in _database_bytes(tmp_path)

        document = receipts(world.verifiers[0], [envelope])
        done = courier_post(client, world, "/api/v1/courier/receipts", document)
        assert done.json() == {"accepted": 1, "deleted": [sid]}

        assert marker not in _database_bytes(tmp_path)
        assert wal.stat().st_size == 0
