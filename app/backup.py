"""`intake backup` and `intake restore`: a consistent copy of the database and
the blob store, safe to keep off-site.

A backup holds what the server holds and nothing more: ciphertext (blobs,
replies), signed manifests, signed receipts and the bookkeeping rows (random
ids, sizes, hour-rounded times, and the mailbox id of each reply waiting:
submissions hold none since migration 0003). No key that opens anything ever
reaches the server, so none is in a backup: whoever steals one learns what a
seized server would tell them.

Consistency while the server runs and takes uploads:

- Every table is read inside ONE read-only transaction: REPEATABLE READ on
  PostgreSQL, a deferred `BEGIN` on SQLite (in WAL mode a reader keeps the
  snapshot its first read saw). Rows committed later are not in the backup;
  rows the snapshot saw are all there, whole.
- Blobs are copied by the digests that snapshot names. With the `db` backend
  their rows are read in the same transaction, so blobs and tables agree
  exactly. With the `fs` backend a blob file only ever changes by an atomic
  rename (rewrap) or an unlink, so each copy is old or new, never a mix; a
  blob the snapshot names but that is gone now was released by a receipt (or
  purge) after the snapshot, and its submission is left out of the backup,
  which then shows the state just after that deletion.
- The server records an envelope's digest before it moves the bytes from the
  upload's partial to the blob name, so a blob missing under its name is
  looked for in that partial too (and taken only if its digest matches).

The archive is an uncompressed tar (ciphertext does not compress):

    blobs/<hex payload digest>   the stored envelope bytes, one member per blob
    tables/<table>.jsonl         one JSON object per row (bytes and times tagged)
    MANIFEST.json                last: format, schema revision, and the size and
                                 SHA-256 of every other member

Every blob copied is read back from the archive and its keyless payload
digest checked against its name, so a backup that was written is one that
restores. Restore checks every member against MANIFEST.json and every blob
against its name before it touches the target, refuses a target that holds
anything, and checks the manifest chain against `INTAKE_TRUST_ROOT` when set.
A backup restores into either blob backend and either database.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tarfile
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, Table, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

import crypto
from app import clock
from app.db import READ_ONLY
from app.migrate import alembic_config, downgrade, upgrade
from app.models import BlobChunk
from app.runtime import Runtime
from app.storage import BlobMissing, BlobStore, DatabaseBlobStore
from crypto.bundle import BoundedTarInfo

FORMAT = "intake-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "MANIFEST.json"

# Not copied as tables: Alembic's bookkeeping (restore re-creates it by
# migrating) and the `db` backend's blob rows (copied as blobs, by digest, so
# an archive restores into either backend; partials and temporaries are never
# copied: an upload in progress restarts from its beginning).
_NOT_TABLES = frozenset({"alembic_version", BlobChunk.__tablename__})
_TABLE = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
_BLOB_MEMBER = re.compile(r"\Ablobs/([0-9a-f]{64})\Z")
_TABLE_MEMBER = re.compile(r"\Atables/([a-z_][a-z0-9_]{0,62})\.jsonl\Z")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_REVISION = re.compile(r"\A[0-9A-Za-z_]{1,64}\Z")

_COPY = 1024 * 1024
_BATCH_ROWS = 500
_BATCH_BYTES = 16 * 1024 * 1024
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_MAX_LINE_BYTES = 256 * 1024 * 1024

# The few columns backup and restore must understand (the rest is copied as is).
_ENVELOPES = "envelopes"
_SUBMISSIONS = "submissions"
_RECEIPTS = "receipts"
_MANIFESTS = "manifests"


class BackupError(Exception):
    """A backup or restore failed. A failed backup leaves no archive behind; a
    failed restore has changed nothing unless it says otherwise."""


class ArchiveInvalid(BackupError):
    """The archive is damaged, altered, incomplete or not an intake backup."""


class TargetNotEmpty(BackupError):
    """Restore only fills an empty database and an empty blob store."""


class StoreDamaged(BackupError):
    """The live database names a blob the store does not hold intact."""


# -- values ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    """A column value as JSON: bytes and times are tagged so they come back typed."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"time": value.isoformat()}
    raise BackupError(f"cannot back up a value of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and isinstance(value.get("b64"), str):
        return crypto.b64d(value["b64"]) if value["b64"] else b""
    if len(value) == 1 and isinstance(value.get("time"), str):
        try:
            return datetime.fromisoformat(value["time"])
        except ValueError as exc:
            raise ArchiveInvalid("a row holds a malformed time") from exc
    raise ArchiveInvalid("a row holds a value of unknown type")


# -- small streams ----------------------------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Hashing:
    """Passes reads through, hashing (SHA-256) and counting what went by."""

    def __init__(self, src: _Readable) -> None:
        self._src = src
        self.sha256 = hashlib.sha256()
        self.count = 0

    def _seen(self, data: bytes) -> bytes:
        self.sha256.update(data)
        self.count += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        return self._seen(self._src.read(size))

    def readline(self, limit: int = -1) -> bytes:
        readline = getattr(self._src, "readline", None)
        if readline is None:  # pragma: no cover - archive members have readline
            raise TypeError("source cannot read lines")
        return self._seen(bytes(readline(limit)))

    def drain(self) -> None:
        while self.read(_COPY):
            pass


class _Window:
    """Reads `size` bytes of a file from `start` (a member inside the archive)."""

    def __init__(self, src: BinaryIO, start: int, size: int) -> None:
        src.seek(start)
        self._src = src
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data = self._src.read(want)
        self._left -= len(data)
        return data


class _SnapshotBlob:
    """One `db`-backend blob read row by row inside the backup's transaction,
    so it is exactly the blob that snapshot saw (one row in memory)."""

    def __init__(self, conn: Connection, name: str) -> None:
        self._conn = conn
        self._name = name
        rows = conn.execute(
            select(BlobChunk.offset, func.length(BlobChunk.data))
            .where(BlobChunk.key == name)
            .order_by(BlobChunk.offset)
        ).all()
        self._rows = [(int(offset), int(length)) for offset, length in rows]
        expected = 0
        for offset, length in self._rows:
            if offset != expected:
                raise StoreDamaged(f"blob rows of {name} are not contiguous")
            expected += length
        self.size = expected
        self._next = 0
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._next < len(self._rows):
            offset = self._rows[self._next][0]
            self._next += 1
            data = self._conn.execute(
                select(BlobChunk.data).where(
                    BlobChunk.key == self._name, BlobChunk.offset == offset
                )
            ).scalar_one()
            self._buffer += bytes(data)
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


# -- backup ---------------------------------------------------------------------


@dataclass
class BackupReport:
    path: str
    revision: str
    tables: dict[str, int]
    blobs: int
    blob_bytes: int
    # Submissions the snapshot held but a receipt or purge deleted, with their
    # blobs, before the copy reached them.
    dropped_submissions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction that sees a single moment of the database."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        options: dict[str, Any] = {
            "isolation_level": "REPEATABLE READ",
            "postgresql_readonly": True,
        }
    elif dialect == "sqlite":
        # A deferred BEGIN (app.db): a reader that never takes the write lock.
        options = {READ_ONLY: True}
    else:
        raise BackupError(f"backups of {dialect} databases are not supported")
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.type = tarfile.REGTYPE
    return info


def _tables(conn: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    tables = [table for table in metadata.sorted_tables if table.name not in _NOT_TABLES]
    for table in tables:
        if not _TABLE.match(table.name):
            raise BackupError(f"unexpected table name {table.name!r}")
    return tables


class _Writer:
    """Builds the archive next to its final name and moves it there only once
    it is complete and on disk (a crashed backup never looks like one)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.partial")
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._reader = self.tmp.open("rb")
        # Closed by finish() or abandon(): the writer outlives any one block.
        self.tar = tarfile.open(  # noqa: SIM115
            fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT
        )
        self.members: dict[str, dict[str, Any]] = {}

    def add(self, name: str, size: int, src: _Readable) -> tuple[str, int]:
        """Adds a member; returns (sha256 hex, its offset in the archive)."""
        hashing = _Hashing(src)
        info = _tarinfo(name, size)
        self.tar.addfile(info, hashing)
        if hashing.count != size:  # pragma: no cover - tarfile raises first
            raise BackupError(f"{name} changed size while being copied")
        digest = hashing.sha256.hexdigest()
        self.members[name] = {"size": size, "sha256": digest}
        # The data ends where the archive now ends, before its padding to a
        # whole block (TarInfo.offset_data is only set when reading).
        padded = -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        return digest, self.tar.offset - padded

    def read_back(self, start: int, size: int) -> _Window:
        self._file.flush()
        return _Window(self._reader, start, size)

    def finish(self, manifest: dict[str, Any]) -> None:
        data = json.dumps(manifest, sort_keys=True, indent=1).encode()
        self.tar.addfile(_tarinfo(MANIFEST_NAME, len(data)), _Bytes(data))
        self.tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._reader.close()
        try:
            # link, not rename: never replace a file that appeared meanwhile.
            os.link(self.tmp, self.out)
        except FileExistsError as exc:
            raise BackupError(f"{self.out} already exists") from exc
        finally:
            self.tmp.unlink(missing_ok=True)
        clock.round_file_times(self.out)
        fd = os.open(self.out.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.tar.close()
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(Exception):
            self._reader.close()
        self.tmp.unlink(missing_ok=True)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        data = self._data[self._pos : end]
        self._pos += len(data)
        return data


def _payload_digest(src: _Readable) -> str | None:
    try:
        return crypto.payload_digest(src).hex()  # type: ignore[arg-type]  # only .read is used
    except crypto.InvalidEnvelope:
        return None


def _upload_ids(conn: Connection, envelopes: Table, key: str) -> list[str]:
    rows = conn.execute(
        select(envelopes.c.submission_id, envelopes.c.eid).where(envelopes.c.digest == key)
    ).all()
    return [f"{sid}.{eid}" for sid, eid in rows]


@dataclass
class _Source:
    """A candidate copy of a blob: `reopen` gives a reader from its first byte."""

    is_blob: bool
    size: int
    reopen: Callable[[], _Readable]


def _blob_sources(
    runtime: Runtime, conn: Connection, envelopes: Table, key: str
) -> Generator[_Source, None, None]:
    """Candidate copies of blob `key`: the blob, then the partial of each
    envelope that names it (its digest is recorded before its bytes move)."""
    uploads = _upload_ids(conn, envelopes, key)
    if isinstance(runtime.blobs, DatabaseBlobStore):
        for name, is_blob in [(key, True), *((f"partial/{u}", False) for u in uploads)]:
            blob = _SnapshotBlob(conn, name)
            if blob.size:
                # Same snapshot, same bytes: reading it again is reading it twice.

                def again(name: str = name) -> _Readable:
                    return _SnapshotBlob(conn, name)

                yield _Source(is_blob, blob.size, again)
        return
    store: BlobStore = runtime.blobs
    # The blob, then the partial it may still be in, then the blob again (the
    # rename may have happened between the two looks). A handle, once open,
    # reads the file it opened even if a rewrap renames another over it.
    for attempt in ("blob", "partial", "blob"):
        for name in [key] if attempt == "blob" else uploads:
            try:
                handle = store.open(name) if attempt == "blob" else store.open_partial(name)
            except (BlobMissing, ValueError):
                continue
            with handle:
                size = handle.seek(0, os.SEEK_END)

                def rewind(handle: BinaryIO = handle) -> _Readable:
                    handle.seek(0)
                    return handle

                yield _Source(attempt == "blob", size, rewind)


def _still_referenced(runtime: Runtime, key: str) -> bool:
    with runtime.engine.connect() as conn:
        envelopes = Table(_ENVELOPES, MetaData(), autoload_with=conn)
        return (
            conn.execute(
                select(envelopes.c.digest).where(envelopes.c.digest == key).limit(1)
            ).first()
            is not None
        )


def _copy_blob(
    runtime: Runtime, conn: Connection, envelopes: Table, writer: _Writer, key: str
) -> int | None:
    """Copies blob `key` into the archive and checks the copy; returns its
    size, or None if it was deleted after the snapshot."""
    # closing(): a store file handle is released as soon as its copy is done.
    with contextlib.closing(_blob_sources(runtime, conn, envelopes, key)) as sources:
        for source in sources:
            # A partial is taken only if it is this envelope, whole.
            if not source.is_blob and _payload_digest(source.reopen()) != key:
                continue
            _, start = writer.add(f"blobs/{key}", source.size, source.reopen())
            # Read the copy back from the archive: what was written is what restores.
            if _payload_digest(writer.read_back(start, source.size)) != key:
                raise StoreDamaged(f"blob {key} in the store does not match its name")
            return source.size
    if _still_referenced(runtime, key):
        raise StoreDamaged(f"the database names blob {key}, but the store does not hold it")
    return None


def _dump_table(conn: Connection, table: Table, out: IO[bytes], skip: dict[str, set[str]]) -> int:
    """Writes the table's rows as JSON lines, in primary-key order."""
    query = (
        select(table).order_by(*table.primary_key.columns).execution_options(yield_per=_BATCH_ROWS)
    )
    count = 0
    for row in conn.execute(query).mappings():
        if any(row.get(column) in values for column, values in skip.items()):
            continue
        line = json.dumps(
            {column: _encode(value) for column, value in row.items()},
            sort_keys=True,
            separators=(",", ":"),
        )
        out.write(line.encode() + b"\n")
        count += 1
    return count


def _skip_rules(table: str, sids: set[str], keys: set[str]) -> dict[str, set[str]]:
    """Rows of submissions deleted (with their blobs) after the snapshot."""
    if table == _SUBMISSIONS:
        return {"id": sids}
    if table == _ENVELOPES:
        return {"submission_id": sids}
    if table == _RECEIPTS:
        return {"digest": keys}
    return {}


def backup(
    runtime: Runtime, out: Path, *, on_snapshot: Callable[[], None] | None = None
) -> BackupReport:
    """Writes a consistent archive of the database and the blob store to `out`
    (which must not exist). Safe while the server runs and takes uploads.

    `on_snapshot` runs once the snapshot has named its blobs and before any
    is copied: the moment other writers race a backup (tests use it)."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    writer = _Writer(out)
    try:
        with _snapshot(runtime.engine) as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            if revision is None:
                raise BackupError("the database has no schema: nothing to back up")
            tables = _tables(conn)
            by_name = {table.name: table for table in tables}
            if _ENVELOPES not in by_name:
                raise BackupError("the database has no envelopes table")
            envelopes = by_name[_ENVELOPES]
            keys = sorted(
                conn.execute(
                    select(envelopes.c.digest).where(envelopes.c.digest.is_not(None)).distinct()
                ).scalars()
            )
            if on_snapshot is not None:
                on_snapshot()
            blobs: dict[str, dict[str, Any]] = {}
            gone: set[str] = set()
            for key in keys:
                if not _HEX64.match(key):
                    raise StoreDamaged(f"an envelope names the blob {key!r}")
                size = _copy_blob(runtime, conn, envelopes, writer, key)
                if size is None:
                    gone.add(key)
                else:
                    blobs[key] = writer.members[f"blobs/{key}"]
            dropped: set[str] = set()
            for key in sorted(gone):
                dropped.update(
                    conn.execute(
                        select(envelopes.c.submission_id).where(envelopes.c.digest == key)
                    ).scalars()
                )
            counts: dict[str, int] = {}
            table_members: dict[str, dict[str, Any]] = {}
            for table in tables:
                with tempfile.TemporaryFile(dir=out.parent) as spool:
                    counts[table.name] = _dump_table(
                        conn, table, spool, _skip_rules(table.name, dropped, gone)
                    )
                    size = spool.tell()
                    spool.seek(0)
                    name = f"tables/{table.name}.jsonl"
                    writer.add(name, size, spool)
                    table_members[table.name] = {"rows": counts[table.name], **writer.members[name]}
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                # The hour, like every time the server keeps: a backup travels
                # further than the server and must date nothing more exactly.
                "created": clock.rfc3339(clock.hour()),
                "revision": revision,
                "dialect": runtime.engine.dialect.name,
                "blob_backend": runtime.settings.blob_backend,
                "tables": table_members,
                "blobs": blobs,
                "dropped_submissions": len(dropped),
            }
        writer.finish(manifest)
    except BaseException:
        writer.abandon()
        raise
    return BackupReport(
        path=str(out),
        revision=revision,
        tables=counts,
        blobs=len(blobs),
        blob_bytes=sum(int(entry["size"]) for entry in blobs.values()),
        dropped_submissions=len(dropped),
    )


# -- restore --------------------------------------------------------------------


@dataclass
class RestoreReport:
    revision: str
    tables: dict[str, int]
    blobs: int
    blob_bytes: int
    chain_checked: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Archive:
    tar: tarfile.TarFile
    members: dict[str, tarfile.TarInfo]
    manifest: dict[str, Any]
    revision: str
    tables: dict[str, dict[str, Any]]
    blobs: dict[str, dict[str, Any]]

    def open(self, name: str) -> IO[bytes]:
        src = self.tar.extractfile(self.members[name])
        if src is None:  # pragma: no cover - only regular files are indexed
            raise ArchiveInvalid(f"{name} is not a file")
        return src


def _entry(value: Any, what: str) -> dict[str, Any]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("size"), int)
        or isinstance(value.get("size"), bool)
        or value["size"] < 0
        or not isinstance(value.get("sha256"), str)
        or not _HEX64.match(value["sha256"])
    ):
        raise ArchiveInvalid(f"MANIFEST.json: bad entry for {what}")
    return value


def _open_archive(tar: tarfile.TarFile) -> _Archive:
    """Indexes the members and reads MANIFEST.json; refuses anything that is
    not exactly what a backup writes (names are never used as paths)."""
    members: dict[str, tarfile.TarInfo] = {}
    try:
        infos = tar.getmembers()
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveInvalid(f"the archive's member headers are not a backup's: {exc}") from exc
    for info in infos:
        if not info.isreg():
            raise ArchiveInvalid(f"{info.name!r} is not a regular file")
        if info.name in members:
            raise ArchiveInvalid(f"{info.name!r} appears twice")
        members[info.name] = info
    if MANIFEST_NAME not in members:
        raise ArchiveInvalid("no MANIFEST.json: not an intake backup")
    if members[MANIFEST_NAME].size > _MAX_MANIFEST_BYTES:
        raise ArchiveInvalid("MANIFEST.json is too large")
    src = tar.extractfile(members[MANIFEST_NAME])
    if src is None:  # pragma: no cover - isreg() above
        raise ArchiveInvalid("MANIFEST.json is not a file")
    try:
        manifest = crypto.load_json(src.read())
    except ValueError as exc:
        raise ArchiveInvalid("MANIFEST.json is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveInvalid("not an intake backup")
    if manifest.get("version") != FORMAT_VERSION:
        raise ArchiveInvalid(f"backup format version {manifest.get('version')!r} is not supported")
    revision = manifest.get("revision")
    tables = manifest.get("tables")
    blobs = manifest.get("blobs")
    if not isinstance(revision, str) or not _REVISION.match(revision):
        raise ArchiveInvalid("MANIFEST.json: bad schema revision")
    if not isinstance(tables, dict) or not isinstance(blobs, dict):
        raise ArchiveInvalid("MANIFEST.json: tables and blobs must be objects")
    expected = {MANIFEST_NAME}
    for name, entry in tables.items():
        if not isinstance(name, str) or not _TABLE.match(name) or name in _NOT_TABLES:
            raise ArchiveInvalid(f"MANIFEST.json: bad table name {name!r}")
        _entry(entry, name)
        if not isinstance(entry.get("rows"), int) or isinstance(entry.get("rows"), bool):
            raise ArchiveInvalid(f"MANIFEST.json: bad row count for {name}")
        expected.add(f"tables/{name}.jsonl")
    for key, entry in blobs.items():
        if not isinstance(key, str) or not _HEX64.match(key):
            raise ArchiveInvalid(f"MANIFEST.json: bad blob name {key!r}")
        _entry(entry, key)
        expected.add(f"blobs/{key}")
    if set(members) != expected:
        missing = sorted(expected - set(members))
        extra = sorted(set(members) - expected)
        raise ArchiveInvalid(
            f"members do not match MANIFEST.json (missing {missing}, extra {extra})"
        )
    return _Archive(tar, members, manifest, revision, tables, blobs)


def _check_member(archive: _Archive, name: str, entry: dict[str, Any]) -> _Hashing:
    if archive.members[name].size != entry["size"]:
        raise ArchiveInvalid(f"{name}: size differs from MANIFEST.json")
    return _Hashing(archive.open(name))


def _hash_matches(hashing: _Hashing, entry: dict[str, Any]) -> bool:
    return hmac.compare_digest(hashing.sha256.hexdigest(), str(entry["sha256"]))


def _rows(src: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(iter(lambda: src.readline(_MAX_LINE_BYTES), b""), 1):
        if not line.endswith(b"\n"):
            raise ArchiveInvalid(f"{name}: line {number} is cut short or too long")
        try:
            row = crypto.load_json(line)
        except ValueError as exc:
            raise ArchiveInvalid(f"{name}: line {number} is not valid JSON") from exc
        if not isinstance(row, dict):
            raise ArchiveInvalid(f"{name}: line {number} is not an object")
        yield {str(column): _decode(value) for column, value in row.items()}


def _chain_link(row: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    version, envelope = row.get("version"), row.get("envelope")
    try:
        if not isinstance(version, int) or not isinstance(envelope, str):
            raise ValueError("manifest row")
        parsed = crypto.load_json(envelope)
        if not isinstance(parsed, dict):
            raise ValueError("manifest envelope")
    except ValueError as exc:
        raise ArchiveInvalid("tables/manifests.jsonl: a manifest row is malformed") from exc
    return version, parsed


def _verify(archive: _Archive, root: crypto.TrustRoot | None) -> tuple[set[str], bool]:
    """Checks every member before anything is written. Returns the blobs
    some envelope row names, and whether the manifest chain was checked."""
    for key, entry in archive.blobs.items():
        name = f"blobs/{key}"
        hashing = _check_member(archive, name, entry)
        digest = _payload_digest(hashing)
        hashing.drain()
        if not _hash_matches(hashing, entry):
            raise ArchiveInvalid(f"{name}: SHA-256 differs from MANIFEST.json")
        if digest != key:
            raise ArchiveInvalid(f"{name}: the envelope's payload digest is not its name")
    referenced: set[str] = set()
    chain: list[tuple[int, dict[str, Any]]] = []
    for table, entry in archive.tables.items():
        name = f"tables/{table}.jsonl"
        hashing = _check_member(archive, name, entry)
        count = 0
        for row in _rows(hashing, name):  # type: ignore[arg-type]  # readline via _Lines
            count += 1
            if table == _ENVELOPES and row.get("digest") is not None:
                referenced.add(str(row["digest"]))
            if table == _MANIFESTS:
                chain.append(_chain_link(row))
        hashing.drain()
        if not _hash_matches(hashing, entry):
            raise ArchiveInvalid(f"{name}: SHA-256 differs from MANIFEST.json")
        if count != entry["rows"]:
            raise ArchiveInvalid(f"{name}: holds {count} rows, MANIFEST.json says {entry['rows']}")
    missing = referenced - set(archive.blobs)
    if missing:
        raise ArchiveInvalid(f"{len(missing)} blobs that envelopes name are not in the archive")
    if root is None or not chain:
        return referenced, False
    try:
        crypto.verify_chain([envelope for _, envelope in sorted(chain, key=lambda c: c[0])], root)
    except crypto.ManifestExpired:
        pass  # still signed by the right admins; the server will say it expired
    except crypto.InvalidSignature as exc:
        raise ArchiveInvalid(
            f"the archive's manifest chain does not verify against INTAKE_TRUST_ROOT ({exc.reason})"
        ) from exc
    return referenced, True


def _check_empty(runtime: Runtime) -> None:
    """Every table empty (the `db` backend's blob rows included) and, for the
    `fs` backend, no blob and no partial in the blob directory."""
    engine = runtime.engine
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    with engine.connect() as conn:
        for name in sorted(names):
            table = Table(name, MetaData(), autoload_with=conn)
            if conn.execute(select(text("1")).select_from(table).limit(1)).first() is not None:
                raise TargetNotEmpty(f"table {name} of the target database holds rows")
    if isinstance(runtime.blobs, DatabaseBlobStore):
        return
    if next(iter(runtime.blobs.list_blobs()), None) or next(
        iter(runtime.blobs.list_partials()), None
    ):
        raise TargetNotEmpty(f"the blob directory {runtime.settings.blob_dir} is not empty")


def _prepare_schema(runtime: Runtime, revision: str) -> None:
    """Brings the (empty) target to the archive's schema revision."""
    settings = runtime.settings
    script = ScriptDirectory.from_config(alembic_config(settings))
    try:
        script.get_revision(revision)
    except CommandError as exc:
        raise ArchiveInvalid(
            f"the archive has schema revision {revision}, unknown to this version of intake; "
            "restore with the version that made it"
        ) from exc
    with runtime.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current not in (None, revision):
        downgrade(settings, "base")  # only ever reached with every table empty
    upgrade(settings, revision)


def _write_blobs(
    archive: _Archive, store: BlobStore, wanted: Iterable[str]
) -> tuple[int, int, list[str]]:
    written: list[str] = []
    total = 0
    try:
        for key in sorted(wanted):
            entry = archive.blobs[key]
            hashing = _Hashing(archive.open(f"blobs/{key}"))
            upload = f"{secrets.token_hex(16)}.form"  # a private name for the copy
            with store.append(upload, 0) as appender:
                while block := hashing.read(_COPY):
                    appender.write(block)
            # Checked again: the archive may have changed since it was verified.
            if not _hash_matches(hashing, entry):
                store.discard_partial(upload)
                raise ArchiveInvalid(f"blobs/{key} changed during the restore")
            store.commit_partial(upload, key)
            written.append(key)
            total += hashing.count
    except BaseException:
        for key in written:
            with contextlib.suppress(Exception):
                store.delete(key)
        raise
    return len(written), total, written


def _insert_rows(conn: Connection, archive: _Archive) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    target = [table for table in metadata.sorted_tables if table.name not in _NOT_TABLES]
    if {table.name for table in target} != set(archive.tables):
        raise ArchiveInvalid(
            f"the archive's tables {sorted(archive.tables)} do not match the schema at revision "
            f"{archive.revision}: {sorted(table.name for table in target)}"
        )
    counts: dict[str, int] = {}
    for table in target:
        name = f"tables/{table.name}.jsonl"
        entry = archive.tables[table.name]
        hashing = _Hashing(archive.open(name))
        columns = set(table.columns.keys())
        batch: list[dict[str, Any]] = []
        batch_bytes = 0
        count = 0
        for row in _rows(hashing, name):  # type: ignore[arg-type]
            if not set(row) <= columns:
                raise ArchiveInvalid(f"{name}: columns {sorted(set(row) - columns)} are unknown")
            batch.append(row)
            batch_bytes += sum(len(v) for v in row.values() if isinstance(v, bytes | str))
            count += 1
            if len(batch) >= _BATCH_ROWS or batch_bytes >= _BATCH_BYTES:
                conn.execute(table.insert(), batch)
                batch, batch_bytes = [], 0
        if batch:
            conn.execute(table.insert(), batch)
        hashing.drain()
        if not _hash_matches(hashing, entry):
            raise ArchiveInvalid(f"{name} changed during the restore")
        counts[table.name] = count
    if conn.dialect.name == "postgresql":
        _advance_sequences(conn, target)
    return counts


def _advance_sequences(conn: Connection, tables: list[Table]) -> None:
    """Rows came with their ids: move each id sequence past them, or the next
    insert would reuse an id."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            highest = conn.execute(select(func.max(column))).scalar()
            conn.execute(
                text("SELECT setval(:sequence, :value, :called)"),
                {
                    "sequence": sequence,
                    "value": int(highest) if highest is not None else 1,
                    "called": highest is not None,
                },
            )


def restore(runtime: Runtime, path: Path) -> RestoreReport:
    """Fills an empty database and blob store from the archive at `path`,
    after checking every byte of it; then migrates to this version's schema."""
    settings = runtime.settings
    root = crypto.TrustRoot.parse(settings.trust_root) if settings.trust_root else None
    notes: list[str] = []
    try:
        # Bounded headers: an archive is read before it is checked, and a
        # huge PAX header would otherwise be read whole into memory.
        tar = tarfile.open(path, mode="r:", tarinfo=BoundedTarInfo)  # noqa: SIM115 -- closed by the `with tar` below
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveInvalid(f"{path} is not a readable tar archive: {exc}") from exc
    with tar:
        archive = _open_archive(tar)
        referenced, chain_checked = _verify(archive, root)
        if not chain_checked:
            notes.append("manifest chain not checked: INTAKE_TRUST_ROOT is not set")
        unreferenced = set(archive.blobs) - referenced
        if unreferenced:
            notes.append(f"{len(unreferenced)} blobs no envelope names were left out")
        _check_empty(runtime)
        try:
            _prepare_schema(runtime, archive.revision)
        except SQLAlchemyError as exc:
            raise BackupError(
                f"could not make the schema in the target database ({exc.__class__.__name__}); "
                "restore into a new database made by deploy/postgresql/setup.sql"
            ) from exc
        # Blobs first, with no transaction open (SQLite's `db` backend writes
        # in its own): a crash then leaves blobs no row names, which purge
        # removes, never rows naming missing blobs.
        count, total, written = _write_blobs(archive, runtime.blobs, referenced)
        try:
            with runtime.engine.begin() as conn:
                tables = _insert_rows(conn, archive)
        except SQLAlchemyError as exc:
            for key in written:
                with contextlib.suppress(Exception):
                    runtime.blobs.delete(key)
            # Every row was checked against MANIFEST.json: such an archive
            # was written by something other than `intake backup`.
            raise ArchiveInvalid(
                f"the archive's rows do not fit the schema ({exc.__class__.__name__})"
            ) from exc
        except BaseException:
            for key in written:
                with contextlib.suppress(Exception):
                    runtime.blobs.delete(key)
            raise
    upgrade(settings, "head")
    return RestoreReport(
        revision=archive.revision,
        tables=tables,
        blobs=count,
        blob_bytes=total,
        chain_checked=chain_checked,
        notes=notes,
    )
