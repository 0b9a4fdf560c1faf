"""Submissions keep no mailbox id (issue 14, item 5), on SQLite and PostgreSQL.

A page loaded before the upgrade still names the mailbox when it declares;
the declaration is taken (refusing it would lose the applicant's submission)
and the id dropped. Migration 0003 clears the ids a server already held.
Only a reply waiting in the mailbox keeps the id it is fetched by.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import POW_SECRET, FreshDatabase
from fastapi.testclient import TestClient
from pydantic import SecretStr
from server_helpers import World, courier_get, courier_post, make_reply, read_bundle, seal, submit
from sqlalchemy.engine import make_url

from app.migrate import upgrade
from app.settings import Settings
from tests.support.databases import every_value

OLD_PAGE_MAILBOX = "5e" * 32


def test_a_declaration_naming_a_mailbox_is_taken_and_the_id_kept_nowhere(
    ready: TestClient, world: World, genesis: dict[str, Any], database_url: str
) -> None:
    form = seal(genesis, b'{"answers": {"story": "one"}}')
    followup = seal(genesis, b'{"answers": {"message": "two"}}', kind="followup")
    first = submit(ready, {"form": form}, mailbox=OLD_PAGE_MAILBOX)
    second = submit(ready, {"form": followup}, kind="followup", mailbox=OLD_PAGE_MAILBOX)

    values = every_value(database_url)
    assert first in values and second in values
    assert not [value for value in values if OLD_PAGE_MAILBOX in value]
    bundle = courier_get(ready, world, "/api/v1/courier/bundle")
    _chain, subs = read_bundle(bundle.content)
    assert set(subs) == {first, second}
    assert OLD_PAGE_MAILBOX.encode() not in bundle.content


def test_a_reply_waiting_is_the_one_row_that_holds_a_mailbox_id(
    ready: TestClient, world: World, genesis: dict[str, Any], database_url: str
) -> None:
    submit(ready, {"form": seal(genesis, b'{"answers": {"story": "one"}}')})
    item, keys = make_reply(world, genesis, "a codename of nine words")
    stored = courier_post(
        ready, world, "/api/v1/courier/replies", {"type": "intake/replies", "replies": [item]}
    )
    assert stored.status_code == 200, stored.text
    holding = [value for value in every_value(database_url) if keys.mailbox_id in value]
    assert holding == [keys.mailbox_id]  # replies.mailbox, once


def _pg_dump(database_url: str) -> bytes:
    libpq = make_url(database_url).set(drivername="postgresql")
    return subprocess.run(
        ["pg_dump", "--no-owner", libpq.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def _pg_table_file(engine: sa.Engine) -> bytes | None:
    """The submissions table's data file as it is on disk (after a CHECKPOINT
    writes shared buffers out), or None where this process cannot read the
    cluster's files (PostgreSQL on another host or as another user)."""
    with engine.connect() as conn:
        conn.execute(sa.text("CHECKPOINT"))
        root = conn.execute(sa.text("SHOW data_directory")).scalar_one()
        relative = conn.execute(sa.text("SELECT pg_relation_filepath('submissions')")).scalar_one()
    path = Path(root) / relative
    try:
        return path.read_bytes()
    except OSError:
        return None


def test_migration_0003_clears_the_mailbox_ids_a_server_already_held(
    fresh_databases: FreshDatabase,
) -> None:
    settings = Settings(
        database_url=fresh_databases.new(), environment="test", pow_secret=SecretStr(POW_SECRET)
    )
    held = "7a" * 32
    upgrade(settings, "0002")
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO submissions (id, kind, mailbox, state, created, size) "
                    "VALUES (:id, 'submission', :mailbox, 'complete', :created, 10)"
                ),
                {"id": "0" * 32, "mailbox": held, "created": "2026-12-01 10:00:00"},
            )
        before = _pg_table_file(engine) if engine.dialect.name == "postgresql" else None
        engine.dispose()

        upgrade(settings)

        engine.dispose()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("submissions")}
        assert "mailbox" not in columns
        with engine.connect() as conn:
            rows = [
                tuple(row) for row in conn.execute(sa.text("SELECT id, state FROM submissions"))
            ]
        assert rows == [("0" * 32, "complete")]
        engine.dispose()
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite":
            # secure_delete: the pages batch mode freed were zeroed, not left holding it.
            path = Path(str(url.database))
            files = [path, path.with_name(path.name + "-wal")]
            on_disk = b"".join(f.read_bytes() for f in files if f.exists())
            assert ("0" * 32).encode() in on_disk
            assert held.encode() not in on_disk
        else:
            dump = _pg_dump(settings.database_url)
            assert ("0" * 32).encode() in dump
            assert held.encode() not in dump
            # Nor in the table's file: no dead row version keeps it.
            if (on_disk_after := _pg_table_file(engine)) is not None:
                assert before is not None and held.encode() in before
                assert ("0" * 32).encode() in on_disk_after
                assert held.encode() not in on_disk_after
    finally:
        engine.dispose()
