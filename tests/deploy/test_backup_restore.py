"""`intake backup` and `intake restore`: a backup taken while the server takes
uploads restores into a fresh database and blob store, and every submission
in it opens with the verifier's key. Damaged archives and non-empty targets
are refused before anything is written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, select

import crypto
from app.backup import MANIFEST_NAME, ArchiveInvalid, StoreDamaged, TargetNotEmpty, backup, restore
from app.models import Envelope, Reply, Submission
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from tests.deploy.helpers import (
    DEMO_PASSPHRASE,
    Org,
    Sealed,
    Uploader,
    prepare_database,
    pull_and_decrypt,
    seal_submission,
    serve,
)
from tests.support.databases import fresh_database, postgres_unavailable_reason
from tests.support.live_server import BIN, run_cli, server_env

# -- load during a backup --------------------------------------------------------


@dataclass
class Done:
    sid: str
    sealed: Sealed
    started: float
    finished: float


class Load(threading.Thread):
    """An applicant after another, uploading without pause until stopped."""

    def __init__(self, org: Org, url: str) -> None:
        super().__init__(daemon=True)
        self.org = org
        self.url = url
        self.done: list[Done] = []
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        uploader = Uploader([self.url], chunk=64 * 1024)
        try:
            number = 0
            while not self.halt.is_set():
                number += 1
                sizes = [20_000 * (number % 4) + 1] * (number % 3)
                sealed = seal_submission(self.org, f"load-{number}-{os.urandom(6).hex()}", sizes)
                started = time.monotonic()
                sid = uploader.submit(sealed)
                self.done.append(Done(sid, sealed, started, time.monotonic()))
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            uploader.close()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.done) < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the load made no progress"
            time.sleep(0.05)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)
        assert self.error is None, repr(self.error)


def archive_rows(archive: Path, table: str) -> list[dict[str, Any]]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"tables/{table}.jsonl")
        assert member is not None
        return [json.loads(line) for line in member.read().splitlines()]


@pytest.mark.parametrize(
    ("database_kind", "blob_backend"),
    [
        pytest.param("postgresql", "db", id="postgresql-blobs-in-database"),
        pytest.param("sqlite", "fs", id="sqlite-blobs-in-files"),
    ],
)
def test_backup_taken_during_uploads_restores_and_every_submission_in_it_opens(
    database_kind: str, blob_backend: str, org: Org, tmp_path: Path, tools_env: dict[str, str]
) -> None:
    if database_kind == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    archive = tmp_path / "backup.tar"
    with fresh_database(database_kind, tmp_path / "source") as url:
        env = prepare_database(org, url, tmp_path / "blobs", INTAKE_BLOB_BACKEND=blob_backend)
        with serve(env, tmp_path / "source.log") as server:
            # Large attachments first, so copying blobs takes a while.
            first = Uploader([server], chunk=1 << 20)
            before = [
                first.submit(seal_submission(org, f"before-{n}", [1 << 20])) for n in range(3)
            ]
            first.close()
            load = Load(org, server)
            load.start()
            try:
                load.wait_for(2)
                started = time.monotonic()
                result = run_cli(["intake", "backup", "--out", str(archive)], env)
                finished = time.monotonic()
                load.wait_for(len(load.done) + 2)  # still uploading after it ended
            finally:
                load.stop()
    report = json.loads(result.stdout)
    during = [d for d in load.done if d.started < finished and d.finished > started]
    assert during, "no upload ran while the backup ran"

    with fresh_database(database_kind, tmp_path / "target") as target_url:
        target_env = server_env(
            target_url,
            tmp_path / "restored-blobs",
            org.trust_root,
            INTAKE_BLOB_BACKEND=blob_backend,
            INTAKE_POW_DIFFICULTY="0",
            INTAKE_MIN_FREE_BYTES="0",
        )
        restored = json.loads(run_cli(["intake", "restore", str(archive)], target_env).stdout)
        assert restored["chain_checked"] is True
        with serve(target_env, tmp_path / "restored.log") as server:
            cases = pull_and_decrypt(org, server, tmp_path / "verifier", tools_env)
            # The restored server takes new submissions (its ids and sequences moved on).
            after = Uploader([server])
            after.submit(seal_submission(org, "after-restore", [1000]))
            after.close()

    complete = {
        row["id"] for row in archive_rows(archive, "submissions") if row["state"] == "complete"
    }
    assert report["tables"]["submissions"] >= len(complete) >= 5
    # Every complete submission of the backup opens, whole, and nothing else is there.
    assert set(cases) == complete
    sealed = {d.sid: d.sealed for d in load.done}
    for sid in before:
        assert sid in cases
        assert "before-" in cases[sid].answers
    for sid, case in cases.items():
        if sid in sealed:
            assert sealed[sid].canary in case.answers
            assert case.attachment_sha256 == sealed[sid].attachment_sha256
        else:
            assert sid in before
            assert len(case.attachment_sha256) == 1
    # The snapshot is one moment: everything finished before the backup began
    # is in it, nothing begun after it ended is.
    assert {d.sid for d in load.done if d.finished < started} <= complete
    assert not {d.sid for d in load.done if d.started > finished} & complete


# -- API-level tests over one small source deployment -------------------------------

POW_SECRET = "x" * 64


def settings_for(org: Org, url: str, blob_dir: Path, backend: str = "fs") -> Settings:
    return Settings(
        database_url=url,
        blob_dir=blob_dir,
        blob_backend=backend,  # type: ignore[arg-type]
        environment="test",
        pow_secret=SecretStr(POW_SECRET),
        trust_root=org.trust_root,
    )


@dataclass(frozen=True)
class Source:
    """A stopped SQLite deployment with file blobs, and a backup of it."""

    folder: Path
    archive: Path
    sealed: dict[str, Sealed]

    def copy(self, to: Path) -> tuple[str, Path]:
        shutil.copytree(self.folder, to)
        return f"sqlite:///{to / 'intake.db'}", to / "blobs"


@pytest.fixture(scope="module")
def source(org: Org, tmp_path_factory: pytest.TempPathFactory) -> Source:
    folder = tmp_path_factory.mktemp("source") / "deployment"
    folder.mkdir()
    url = f"sqlite:///{folder / 'intake.db'}"
    env = prepare_database(org, url, folder / "blobs")
    sealed: dict[str, Sealed] = {}
    with serve(env, folder.parent / "server.log") as server:
        uploader = Uploader([server], chunk=1 << 20)
        for number, sizes in enumerate([[], [5000], [300_000, 1]]):
            one = seal_submission(org, f"source-{number}", sizes)
            sealed[uploader.submit(one)] = one
        # One upload left half done: restored, it starts again from zero.
        uploader.close()
        declared = {
            "kind": "submission",
            "mailbox": None,
            "envelopes": [{"id": "form", "size": 9000}],
        }
        started = httpx.post(f"{server}/api/v1/submissions", json=declared, timeout=30)
        assert started.status_code == 201
    archive = folder.parent / "backup.tar"
    run_cli(["intake", "backup", "--out", str(archive)], env)
    return Source(folder, archive, sealed)


@pytest.fixture(scope="module")
def keyring(org: Org) -> crypto.Keyring:
    return crypto.Keyring([crypto.read_key_file(org.keyring / "verifier.key", DEMO_PASSPHRASE)])


@pytest.fixture
def runtime_for(org: Org) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(url: str, blob_dir: Path, backend: str = "fs") -> Runtime:
        runtime = build_runtime(settings_for(org, url, blob_dir, backend))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def opened_submissions(runtime: Runtime, keyring: crypto.Keyring) -> dict[str, bytes]:
    """Every complete submission's form, opened with the verifier's key (and
    every attachment opened too): the restored data is usable, not just present."""
    forms: dict[str, bytes] = {}
    with runtime.session_factory() as session:
        rows = session.scalars(select(Submission).where(Submission.state == "complete")).all()
        for submission in rows:
            for envelope in submission.envelopes:
                assert envelope.digest is not None
                with runtime.blobs.open(envelope.digest) as src:
                    _, content = crypto.open_bytes(src.read(), keyring)
                if envelope.eid == "form":
                    forms[submission.id] = content
    return forms


def test_restore_into_database_blobs_from_file_blobs_opens_every_submission(
    source: Source, runtime_for: Any, keyring: crypto.Keyring, tmp_path: Path
) -> None:
    target = runtime_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "unused", "db")
    report = restore(target, source.archive)
    assert report.blobs == 6  # three forms, three attachments
    forms = opened_submissions(target, keyring)
    assert set(forms) == set(source.sealed)
    for sid, form in forms.items():
        assert source.sealed[sid].canary in form.decode()
    with target.session_factory() as session:
        unfinished = session.scalars(
            select(Submission).where(Submission.state == "uploading")
        ).all()
        assert len(unfinished) == 1  # kept; its upload restarts from zero
    assert target.blobs.partial_size(f"{unfinished[0].id}.form") == 0


def test_restore_refuses_a_database_that_holds_rows(
    source: Source, runtime_for: Any, tmp_path: Path
) -> None:
    url, _ = source.copy(tmp_path / "live")
    with pytest.raises(TargetNotEmpty, match="holds rows"):
        restore(runtime_for(url, tmp_path / "empty-blobs"), source.archive)


def test_restore_refuses_a_blob_directory_that_holds_blobs(
    source: Source, runtime_for: Any, tmp_path: Path
) -> None:
    _, blobs = source.copy(tmp_path / "live")
    target = runtime_for(f"sqlite:///{tmp_path / 'empty.db'}", blobs)
    with pytest.raises(TargetNotEmpty, match="not empty"):
        restore(target, source.archive)


def rewrite_archive(src: Path, dst: Path, change: Any) -> None:
    """Copies the archive member by member; `change(name, data)` returns the
    new bytes, or None to leave the member out."""
    with tarfile.open(src) as old, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as new:
        for info in old.getmembers():
            member = old.extractfile(info)
            assert member is not None
            data = change(info.name, member.read())
            if data is None:
                continue
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def first_blob_name(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        return next(name for name in tar.getnames() if name.startswith("blobs/"))


# Ways an archive gets damaged: (archive, member name, member bytes) -> new bytes or None.


def flip_a_blob_byte(archive: Path, name: str, data: bytes) -> bytes | None:
    if name == first_blob_name(archive):
        return data[:-1] + bytes([data[-1] ^ 1])
    return data


def alter_a_row(archive: Path, name: str, data: bytes) -> bytes | None:
    if name == "tables/submissions.jsonl":
        return data.replace(b'"state":"complete"', b'"state":"COMPLETE"', 1)
    return data


def remove_a_blob_and_its_entry(archive: Path, name: str, data: bytes) -> bytes | None:
    removed = first_blob_name(archive)
    if name == removed:
        return None
    if name == "MANIFEST.json":
        manifest = json.loads(data)
        del manifest["blobs"][removed.split("/", 1)[1]]
        return json.dumps(manifest).encode()
    return data


def remove_a_table(archive: Path, name: str, data: bytes) -> bytes | None:
    return None if name == "tables/receipts.jsonl" else data


def remove_the_manifest(archive: Path, name: str, data: bytes) -> bytes | None:
    return None if name == "MANIFEST.json" else data


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (flip_a_blob_byte, "SHA-256 differs"),
        (alter_a_row, "SHA-256 differs"),
        (remove_a_blob_and_its_entry, "not in the archive"),
        (remove_a_table, "do not match MANIFEST.json"),
        (remove_the_manifest, "not an intake backup"),
    ],
)
def test_restore_refuses_a_damaged_archive_before_writing_anything(
    damage: Any, message: str, source: Source, runtime_for: Any, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.tar"
    rewrite_archive(source.archive, damaged, lambda name, data: damage(source.archive, name, data))
    target = runtime_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "blobs")
    with pytest.raises(ArchiveInvalid, match=message):
        restore(target, damaged)
    assert inspect(target.engine).get_table_names() == []
    assert list(target.blobs.list_blobs()) == []


def test_restore_refuses_a_huge_pax_header_before_reading_it(
    source: Source, runtime_for: Any, tmp_path: Path
) -> None:
    """A hostile archive's 200 MiB PAX header (sparse on disk) used to be read
    whole into memory before anything was checked."""
    hostile = tmp_path / "hostile.tar"
    shutil.copyfile(source.archive, hostile)
    size = 200 * 1024 * 1024
    with hostile.open("r+b") as out:
        # Replace the end-of-archive blocks with a PAX header claiming `size` bytes.
        end = hostile.stat().st_size
        data = out.read()
        last = data.rstrip(b"\0")
        offset = -(-len(last) // 512) * 512
        assert offset < end
        header = tarfile.TarInfo("././@PaxHeader")
        header.type = tarfile.XHDTYPE
        header.size = size
        out.seek(offset)
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        out.truncate(offset + 512 + size + 1024)
    target = runtime_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "blobs")
    with pytest.raises(ArchiveInvalid, match="member headers"):
        restore(target, hostile)
    assert inspect(target.engine).get_table_names() == []


def test_restore_refuses_a_blob_whose_bytes_match_the_manifest_but_not_its_name(
    source: Source, org: Org, runtime_for: Any, tmp_path: Path
) -> None:
    """Someone who rewrites the archive and its manifest still cannot swap a
    blob: its name is its keyless payload digest, checked on restore."""
    name = first_blob_name(source.archive)
    # A well-formed envelope, sealed to the right verifiers, another payload.
    other = seal_submission(org, "substitute").envelopes["form"]

    def swap(member: str, data: bytes) -> bytes:
        if member == name:
            return other
        if member == "MANIFEST.json":
            manifest = json.loads(data)
            manifest["blobs"][name.split("/")[1]] = {
                "size": len(other),
                "sha256": hashlib.sha256(other).hexdigest(),
            }
            return json.dumps(manifest).encode()
        return data

    damaged = tmp_path / "swapped.tar"
    rewrite_archive(source.archive, damaged, swap)
    target = runtime_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "blobs")
    with pytest.raises(ArchiveInvalid, match="payload digest is not its name"):
        restore(target, damaged)


def test_restore_refuses_a_chain_not_rooted_in_the_configured_trust_root(
    source: Source, org: Org, tmp_path: Path
) -> None:
    stranger = crypto.generate_identity("admin", "someone else")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'target.db'}",
        blob_dir=tmp_path / "blobs",
        environment="test",
        pow_secret=SecretStr(POW_SECRET),
        trust_root=json.dumps({"threshold": 1, "admins": [stranger.sign_kid]}),
    )
    runtime = build_runtime(settings)
    try:
        with pytest.raises(ArchiveInvalid, match="INTAKE_TRUST_ROOT"):
            restore(runtime, source.archive)
    finally:
        runtime.close()


def test_submission_deleted_after_the_snapshot_is_left_out_whole(
    source: Source, runtime_for: Any, keyring: crypto.Keyring, tmp_path: Path
) -> None:
    """A receipt (or purge) that deletes a submission and its blobs while a
    file-blob backup runs: the backup leaves that submission out instead of
    keeping rows whose bytes are gone."""
    url, blobs = source.copy(tmp_path / "live")
    live = runtime_for(url, blobs)
    victim = next(sid for sid, sealed in source.sealed.items() if len(sealed.envelopes) == 3)

    def receipted_meanwhile() -> None:
        with live.session_factory() as session, session.begin():
            submission = session.get(Submission, victim)
            assert submission is not None
            keys = [envelope.digest for envelope in submission.envelopes]
            session.delete(submission)
        for key in keys:
            assert key is not None
            live.blobs.delete(key)

    report = backup(live, tmp_path / "raced.tar", on_snapshot=receipted_meanwhile)
    assert report.dropped_submissions == 1
    target = runtime_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "target-blobs")
    restore(target, tmp_path / "raced.tar")
    forms = opened_submissions(target, keyring)
    assert set(forms) == set(source.sealed) - {victim}
    with target.session_factory() as session:
        assert session.scalars(select(Envelope).where(Envelope.submission_id == victim)).all() == []


def test_backup_fails_and_writes_nothing_when_a_named_blob_is_missing(
    source: Source, org: Org, tmp_path: Path
) -> None:
    url, blobs = source.copy(tmp_path / "live")
    next(blobs.glob("objects/*/*")).unlink()
    out = tmp_path / "backup.tar"
    result = _intake_backup(server_env(url, blobs, org.trust_root), out)
    assert result.returncode == 1
    assert "does not hold it" in result.stderr
    assert list(tmp_path.glob("*.tar*")) == [] and list(tmp_path.glob(".*partial")) == []
    with pytest.raises(StoreDamaged):
        runtime = build_runtime(settings_for(org, url, blobs))
        try:
            backup(runtime, out)
        finally:
            runtime.close()


def _intake_backup(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    """`intake backup --out OUT` as the operator runs it."""
    return subprocess.run(
        [str(BIN / "intake"), "backup", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_backup_never_overwrites_an_existing_file(source: Source, org: Org, tmp_path: Path) -> None:
    url, blobs = source.copy(tmp_path / "live")
    out = tmp_path / "backup.tar"
    out.write_bytes(b"yesterday's backup")
    result = _intake_backup(server_env(url, blobs, org.trust_root), out)
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert out.read_bytes() == b"yesterday's backup"


def test_restored_postgresql_database_gives_new_replies_fresh_ids(
    org: Org, runtime_for: Any, tmp_path: Path
) -> None:
    """Rows keep their ids; the id sequence must move past them, or the first
    reply pushed after a restore would collide with a restored one."""
    if reason := postgres_unavailable_reason():
        pytest.skip(reason)
    with (
        fresh_database("postgresql", tmp_path) as source_url,
        fresh_database("postgresql", tmp_path) as target_url,
    ):
        prepare_database(org, source_url, tmp_path / "source-blobs")
        source = runtime_for(source_url, tmp_path / "source-blobs")
        reply = {"mailbox": "a" * 64, "envelope": b"x", "kid": "b" * 32, "sig": b"s"}
        now = crypto.parse_time("2026-11-22T10:00:00Z")
        with source.session_factory() as session, session.begin():
            session.add_all([Reply(**reply, created=now) for _ in range(3)])
        backup(source, tmp_path / "backup.tar")

        target = runtime_for(target_url, tmp_path / "target-blobs")
        restore(target, tmp_path / "backup.tar")
        with target.session_factory() as session, session.begin():
            session.add(Reply(**reply, created=now))
        with target.session_factory() as session:
            ids = sorted(session.scalars(select(Reply.id)))
        assert len(ids) == 4 and len(set(ids)) == 4


IPV4 = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
APPLICANT_TABLES = ("submissions", "envelopes", "receipts", "replies", "seen_signatures")


def test_backup_holds_no_plaintext_no_address_and_only_hour_rounded_times(source: Source) -> None:
    """What makes an archive safe to copy off-site: it tells its holder no
    more than a seized server would."""
    # Written at the hour; its access time moves with every later read (a
    # copy off-site), which no server setting can prevent.
    written = source.archive.stat()
    assert written.st_mtime_ns % 3_600_000_000_000 == 0
    data = source.archive.read_bytes()
    for sealed in source.sealed.values():
        assert sealed.canary.encode() not in data
    with tarfile.open(source.archive) as tar:
        for info in tar.getmembers():
            member = tar.extractfile(info)
            assert member is not None
            if not info.name.startswith("blobs/"):  # text: base64 has no dots
                assert IPV4.findall(member.read()) == [], info.name
    for table in APPLICANT_TABLES:
        for row in archive_rows(source.archive, table):
            for value in row.values():
                if isinstance(value, dict) and "time" in value:
                    moment = datetime.fromisoformat(value["time"])
                    assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
    with tarfile.open(source.archive) as tar:
        assert {info.mode for info in tar.getmembers()} == {0o600}
        assert {info.mtime for info in tar.getmembers()} == {0}
        listing = tar.extractfile(MANIFEST_NAME)
        assert listing is not None
        created = datetime.fromisoformat(json.loads(listing.read())["created"])
    assert (created.minute, created.second, created.microsecond) == (0, 0, 0)
    assert stat.S_IMODE(written.st_mode) == 0o600
