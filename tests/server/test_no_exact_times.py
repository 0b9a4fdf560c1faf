"""A seized live server dates nothing more finely than the hour.

The database rounds every time it stores to the hour (`app.clock`), so rows
cannot be matched with the exact times in a Tor relay's or an ISP's logs. The
disk under it must not undo that: file and directory times (modification and
access) of blobs, partials, the SQLite files and every directory holding
them are set to the hour too.

The test runs a real `intake serve`, drives it as applicants, a courier and a
mailbox reader do (proof of work, resumed and cut uploads, a follow-up, a
reply read, receipts that delete blobs, a backup), then walks the server's
whole data directory and every column of every row of every table.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import socket
import stat
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from server_helpers import put

import crypto
from tests.resilience.support import (
    ClientStats,
    DemoOrg,
    ResumingClient,
    courier_get,
    courier_post,
    load_demo_org,
    prepare_submission,
)
from tests.support.databases import fresh_database
from tests.support.live_server import LiveServer, live_server, run_cli
from tests.support.pow import solved

HOUR_NS = 3600 * 1_000_000_000
# A date and a time of day, as ISO 8601 / SQL text: "2026-12-04T13:27:31.5Z".
TEXT_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?")
TEXT_TIME_BYTES = re.compile(TEXT_TIME.pattern.encode())
# Integers that would read as Unix times (seconds, milliseconds) from 2001 on.
EPOCH_SECONDS = range(1_000_000_000, 10_000_000_000)
EPOCH_MILLISECONDS = range(1_000_000_000_000, 10_000_000_000_000)
# Times the protocol needs and the server cannot change: inside manifests,
# signed offline by the admins and stored byte for byte.
SIGNED_BY_ADMINS = {("manifests", "payload")}


@pytest.fixture(scope="module")
def org(demo_org: Path) -> DemoOrg:
    return load_demo_org(demo_org)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The server's data directory, made by the server itself (SQLite file,
    blob store); the test's own files (log, backup) stay outside it."""
    return tmp_path / "data"


@contextmanager
def _serving(
    org: DemoOrg, database_kind: str, data_dir: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    """A real server whose data (database file, blobs) is all in `data_dir`."""
    with (
        fresh_database(database_kind, data_dir) as url,
        live_server(
            database_url=url,
            blob_dir=data_dir / "blobs",
            log_path=tmp_path / "server.log",
            trust_root=org.trust_root,
            genesis=org.genesis,
            INTAKE_POW_DIFFICULTY="8",
        ) as live,
    ):
        yield live


@pytest.fixture
def server(
    org: DemoOrg, database_kind: str, data_dir: Path, tmp_path: Path
) -> Iterator[LiveServer]:
    with _serving(org, database_kind, data_dir, tmp_path) as live:
        yield live


def test_no_file_directory_or_database_time_finer_than_the_hour(
    server: LiveServer, org: DemoOrg, data_dir: Path, tmp_path: Path
) -> None:
    _use_like_applicants_courier_and_verifiers(server, org)
    _backup(server, tmp_path / "backup.tar")

    assert _exact_file_times(data_dir) == []
    assert _exact_database_times(server.database_url) == []


def test_no_file_time_finer_than_the_hour_after_the_server_stops(
    org: DemoOrg, database_kind: str, data_dir: Path, tmp_path: Path
) -> None:
    """A server switched off (or seized powered down): SQLite's last close
    checkpoints its WAL and removes it, after every request has ended."""
    with _serving(org, database_kind, data_dir, tmp_path) as live:
        _submit(live, org, cut=True)
    assert _exact_file_times(data_dir) == []


def test_the_search_sees_times_finer_than_the_hour() -> None:
    """The checks above would pass vacuously if the search were blind."""
    exact = [
        datetime(2026, 12, 4, 13, 27, tzinfo=UTC),
        "2026-12-04 13:00:00.000001",
        '{"sent": "2026-12-04T13:00:31Z"}',
        b"\x00\x01 2026-12-04T13:27",
        1_796_390_851,
        1_796_390_851_000,
    ]
    on_the_hour = [
        datetime(2026, 12, 4, 13, tzinfo=UTC),
        "2026-12-04 13:00:00.000000",
        '{"sent": "2026-12-04T13:00:00Z"}',
        1_796_389_200,
        300_000,
    ]
    assert all(list(_exact_times_in(value)) for value in exact)
    assert not any(list(_exact_times_in(value)) for value in on_the_hour)


# -- what a seized server shows ------------------------------------------------


def _on_the_hour_ns(value: int) -> bool:
    return value % HOUR_NS == 0


def _exact_file_times(root: Path) -> list[str]:
    """Every file and directory under `root` (itself included) whose access
    or modification time is not on the hour. Directories are listed with
    O_NOATIME so that looking does not change what is looked at."""
    found: list[str] = []
    pending = [root]
    while pending:
        path = pending.pop()
        info = path.lstat()
        for name in ("st_atime_ns", "st_mtime_ns"):
            value = getattr(info, name)
            if not _on_the_hour_ns(value):
                moment = datetime.fromtimestamp(value / 1e9, UTC).isoformat()
                found.append(f"{path.relative_to(root.parent)} {name}={moment}")
        if stat.S_ISDIR(info.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOATIME", 0))
            try:
                pending.extend(path / entry.name for entry in os.scandir(fd))
            finally:
                os.close(fd)
    return found


def _exact_database_times(database_url: str) -> list[str]:
    """Every value in the database that is, or holds, a time not on the hour:
    datetime columns, times written as text (a SQLite datetime, a JSON
    document), and integers in the range of Unix times."""
    found: list[str] = []
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            metadata = sa.MetaData()
            metadata.reflect(conn)
            tables = metadata.sorted_tables
            assert {"submissions", "envelopes", "replies", "receipts"} <= {t.name for t in tables}
            for table in tables:
                for row in conn.execute(sa.select(table)).mappings():
                    for column, value in row.items():
                        if (table.name, column) in SIGNED_BY_ADMINS:
                            continue
                        for problem in _exact_times_in(value):
                            found.append(f"{table.name}.{column}: {problem}")
    finally:
        engine.dispose()
    return found


def _exact_times_in(value: Any) -> Iterator[str]:
    if isinstance(value, datetime):
        if (value.minute, value.second, value.microsecond) != (0, 0, 0):
            yield value.isoformat()
    elif value is None or isinstance(value, (date, bool)):
        return
    elif isinstance(value, int):
        if value in EPOCH_SECONDS and value % 3600:
            yield f"{value} (Unix seconds)"
        if value in EPOCH_MILLISECONDS and value % 3_600_000:
            yield f"{value} (Unix milliseconds)"
    elif isinstance(value, str):
        for match in TEXT_TIME.finditer(value):
            if _past_the_hour(match.groups()):
                yield match.group(0)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        for match in TEXT_TIME_BYTES.finditer(bytes(value)):
            if _past_the_hour([g.decode() if g else g for g in match.groups()]):
                yield match.group(0).decode()


def _past_the_hour(groups: Any) -> bool:
    minute, second, fraction = groups[4], groups[5], groups[6]
    return int(minute) != 0 or int(second or 0) != 0 or int(fraction or 0) != 0


# -- using the server as people do ----------------------------------------------


def _use_like_applicants_courier_and_verifiers(server: LiveServer, org: DemoOrg) -> None:
    done = _submit(server, org, cut=False)
    _submit(server, org, cut=True)
    _abandon_midway(server, org)
    token = _followup(server, org)
    _reply_and_read(server, org, token)
    _receipt_and_delete(server, org, done)


def _submit(server: LiveServer, org: DemoOrg, *, cut: bool) -> str:
    """A submission with an attachment; `cut`: the attachment's first PUT
    loses its connection mid-body and the upload resumes where it stopped."""
    prepared = prepare_submission(org, "canary-" + secrets.token_hex(8), [300_000])
    with ResumingClient(server.url, ClientStats(), piece=64 * 1024) as client:
        if not cut:
            return client.submit(prepared)
        sid = client.create(prepared)
        eid, data = list(prepared.envelopes.items())[1]
        _cut_put(server.url, f"/api/v1/submissions/{sid}/envelopes/{eid}?offset=0", data)
        client.resume(sid, prepared)
        return sid


def _abandon_midway(server: LiveServer, org: DemoOrg) -> None:
    """An upload left half done: its partial stays on disk."""
    prepared = prepare_submission(org, "canary-" + secrets.token_hex(8), [200_000])
    with ResumingClient(server.url, ClientStats(), piece=64 * 1024) as client:
        sid = client.create(prepared)
        eid, data = list(prepared.envelopes.items())[1]
        response = client.http.put(
            f"/api/v1/submissions/{sid}/envelopes/{eid}?offset=0",
            content=data[:100_000],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.text


def _cut_put(base: str, target: str, data: bytes) -> None:
    """Promises all of `data`, sends half, hangs up; waits until the server
    holds what was sent."""
    parts = urlsplit(base)
    half = len(data) // 2
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:half])
        sock.shutdown(socket.SHUT_WR)
    progress = base + target.split("?")[0]
    for _ in range(600):  # the server notices the hang-up asynchronously
        if httpx.get(progress, timeout=30).json()["offset"] == half:
            return
        time.sleep(0.05)
    raise AssertionError("the server never held the bytes sent before the hang-up")


def _followup(server: LiveServer, org: DemoOrg) -> bytes:
    """A follow-up from an applicant who keeps a mailbox; returns its token."""
    token = secrets.token_bytes(32)
    content = {"v": 2, "answers": {"message": "one more thing"}, "mailbox": token.hex()}
    form = crypto.seal_bytes(
        json.dumps(content).encode(),
        kind="followup",
        manifest=org.manifest.ref,
        recipients=org.recipients,
    )
    with httpx.Client(base_url=server.url, timeout=60) as http:
        sid = _create(http, "followup", {"form": form})
        response = put(http, sid, "form", 0, form)
        assert response.status_code == 200, response.text
        final = http.post(f"/api/v1/submissions/{sid}/finalise")
        assert final.json()["status"] == "complete", final.text
    return token


def _create(http: httpx.Client, kind: str, envelopes: dict[str, bytes]) -> str:
    issued = _answered(lambda: http.post("/api/v1/challenges")).json()
    body = {
        "kind": kind,
        "envelopes": [{"id": eid, "size": len(data)} for eid, data in envelopes.items()],
        "pow": solved(issued),
    }
    response = _answered(lambda: http.post("/api/v1/submissions", json=body))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _answered(send: Any) -> httpx.Response:
    """Waits out the rate limiter (429), a bounded number of times."""
    for _ in range(60):
        response: httpx.Response = send()
        if response.status_code != 429:
            return response
        time.sleep(1)
    raise AssertionError("still rate limited after a minute")


def _reply_and_read(server: LiveServer, org: DemoOrg, token: bytes) -> None:
    """A verifier's reply pushed by the courier, then read from the mailbox."""
    envelope = crypto.seal_bytes(
        b'{"status": "received"}',
        kind="reply",
        manifest=org.manifest.ref,
        recipients=org.recipients,
    )
    kid, sig = crypto.sign_reply(org.verifier, envelope)
    item = {
        "mailbox": crypto.mailbox_id_for_token(token),
        "envelope": crypto.b64e(envelope),
        "kid": kid,
        "sig": crypto.b64e(sig),
    }
    pushed = courier_post(
        org, server.url, "/api/v1/courier/replies", {"type": "intake/replies", "replies": [item]}
    )
    assert pushed.status_code == 200, pushed.text
    with httpx.Client(base_url=server.url, timeout=60) as http:
        issued = _answered(lambda: http.post("/api/v1/mailbox/challenges")).json()
        proof = solved(issued)
        read = _answered(
            lambda: http.post("/api/v1/mailbox", json={"token": crypto.b64e(token), "pow": proof})
        )
    assert read.status_code == 200, read.text
    assert [crypto.b64d(r["envelope"]) for r in read.json()["replies"]] == [envelope]


def _receipt_and_delete(server: LiveServer, org: DemoOrg, sid: str) -> None:
    """The courier pulls, a verifier receipts one submission: its blobs are
    deleted (after the answer), which changes their directories."""
    bundle = courier_get(org, server.url, "/api/v1/courier/bundle")
    assert bundle.status_code == 200, bundle.text[:300]
    digests = []
    for item in crypto.read_bundle(io.BytesIO(bundle.content)):
        if isinstance(item, crypto.ChainItem):
            continue
        if item.meta["id"] == sid:
            digests = [crypto.b64d(e["digest"]) for e in item.meta["envelopes"]]
        item.close()
    assert digests
    receipts = []
    for digest in digests:
        kid, signature = crypto.sign_receipt(org.verifier, digest)
        receipts.append({"digest": crypto.b64e(digest), "kid": kid, "sig": crypto.b64e(signature)})
    document = {"type": "intake/receipts", "receipts": receipts}
    posted = courier_post(org, server.url, "/api/v1/courier/receipts", document)
    assert posted.status_code == 200, posted.text
    # The deletion runs after the answer; each directory is set to the hour
    # just after its unlink. Wait for both (a time left exact fails here).
    paths = [server.blob_dir / "objects" / d.hex()[:2] / d.hex() for d in digests]
    for _ in range(600):
        if not any(path.exists() for path in paths) and all(
            _on_the_hour_ns(path.parent.stat().st_mtime_ns) for path in paths
        ):
            return
        time.sleep(0.05)
    raise AssertionError("receipted blobs never deleted, or their directory kept an exact time")


def _backup(server: LiveServer, out: Path) -> None:
    """`intake backup` reads every blob and table of the live server; the
    archive's members carry no time of their own."""
    run_cli(["intake", "backup", "--out", str(out)], server.env)
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    assert members
    assert [m.name for m in members if m.mtime % 3600] == []
