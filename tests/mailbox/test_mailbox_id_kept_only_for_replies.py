"""The mailbox id is kept only where replies need it (issue 14, item 5).

An applicant keeps a codename on the real intake page and sends a follow-up
from the real mailbox page, in Chromium, against a real server on SQLite and
on PostgreSQL. Neither declaration carries his mailbox id, and afterwards it
is in no row of any table, not in the database's own files (SQLite's file and
its write-ahead log) or a `pg_dump`, and not in an `intake backup` archive:
nothing on the server links his submission, his follow-up and his mailbox
reads. The submission ids, which are stored, are found by the same scans.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Request, expect
from sqlalchemy.engine import make_url

import crypto
from tests.mailbox.browser import SEND_TIMEOUT, open_mailbox
from tests.page import flow
from tests.support.databases import every_value
from tests.support.live_server import LiveServer, run_cli

pytestmark = pytest.mark.browser


def database_bytes(database_url: str) -> bytes:
    """The database as the disk or a dump holds it: SQLite's file and WAL, or `pg_dump`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        ["pg_dump", "--no-owner", libpq], capture_output=True, check=True, timeout=120
    ).stdout


def test_a_submission_and_followup_sent_with_a_codename_leave_the_mailbox_id_nowhere(
    chromium: Browser, server: LiveServer, demo_org: Path, tmp_path: Path
) -> None:
    declared: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/submissions"):
            declared.append(request.post_data or "")

    canary = "canary-" + secrets.token_hex(8)
    context = chromium.new_context()
    context.on("request", record)
    page = context.new_page()
    flow.open_page(page, server, "ru")
    flow.go_to(page, "story")
    page.fill("#q-story", f"Я ушёл из части. {canary}")
    flow.go_to(page, "reply")
    codename = flow.choose_codename(page)
    flow.send(page)

    open_mailbox(page, server.url, codename)
    page.fill("#message", f"Ещё одно. {canary}")
    page.click("#send")
    expect(page.locator("#followup-form")).to_have_attribute(
        "data-state", "sent", timeout=SEND_TIMEOUT
    )
    context.close()

    genesis = crypto.parse_manifest(json.loads((demo_org / "manifest-1.json").read_text()))
    mailbox_id = crypto.derive_mailbox(codename, genesis.payload).mailbox_id
    forms = [mailbox_id.encode(), bytes.fromhex(mailbox_id)]

    rows = every_value(server.database_url)
    stored = database_bytes(server.database_url)
    archive = tmp_path / "backup.tar"
    run_cli(["intake", "backup", "--out", str(archive)], server.env)
    backup = archive.read_bytes()

    assert not [value for value in rows if mailbox_id in value]
    for form in forms:
        assert form not in stored
        assert form not in backup
    # The same scans do find what is stored: both submissions, by id.
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM submissions"))]
    finally:
        engine.dispose()
    assert len(ids) == 2 and set(ids) <= set(rows)
    for sid in ids:
        assert sid.encode() in stored
        assert sid.encode() in backup

    # What the pages sent: both declarations, neither naming the mailbox.
    assert [json.loads(body)["kind"] for body in declared] == ["submission", "followup"]
    assert [mailbox_id in body for body in declared] == [False, False]
