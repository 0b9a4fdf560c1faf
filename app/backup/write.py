"""`intake backup`: one read-only snapshot of every table, the blobs it names,
written to an archive that appears under its name only once complete."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, select

from app import clock
from app.backup.archive import (
    BATCH_ROWS,
    ENVELOPES,
    FORMAT,
    FORMAT_VERSION,
    HEX64,
    MANIFEST_NAME,
    NOT_TABLES,
    RECEIPTS,
    SUBMISSIONS,
    TABLE_NAME,
    Hashing,
    Readable,
    Window,
    encode_value,
    payload_digest_hex,
)
from app.backup.blobs import blob_sources, still_referenced
from app.backup.errors import BackupError, StoreDamaged
from app.db import snapshot
from app.runtime import Runtime
from crypto.bundle import tar_member


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


def _tables(conn: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(bind=conn)
    tables = [table for table in metadata.sorted_tables if table.name not in NOT_TABLES]
    for table in tables:
        if not TABLE_NAME.match(table.name):
            raise BackupError(f"unexpected table name {table.name!r}")
    return tables


class ArchiveWriter:
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

    def add(self, name: str, size: int, src: Readable) -> tuple[str, int]:
        """Adds a member; returns (sha256 hex, its offset in the archive)."""
        hashing = Hashing(src)
        self.tar.addfile(tar_member(name, size), hashing)
        if hashing.count != size:  # pragma: no cover - tarfile raises first
            raise BackupError(f"{name} changed size while being copied")
        digest = hashing.sha256.hexdigest()
        self.members[name] = {"size": size, "sha256": digest}
        # The data ends where the archive now ends, before its padding to a
        # whole block (TarInfo.offset_data is only set when reading).
        padded = -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        return digest, self.tar.offset - padded

    def read_back(self, start: int, size: int) -> Window:
        self._file.flush()
        return Window(self._reader, start, size)

    def finish(self, manifest: dict[str, Any]) -> None:
        data = json.dumps(manifest, sort_keys=True, indent=1).encode()
        self.tar.addfile(tar_member(MANIFEST_NAME, len(data)), io.BytesIO(data))
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


def _copy_blob(
    runtime: Runtime, conn: Connection, envelopes: Table, writer: ArchiveWriter, key: str
) -> int | None:
    """Copies blob `key` into the archive and checks the copy; returns its
    size, or None if it was deleted after the snapshot."""
    # closing(): a store file handle is released as soon as its copy is done.
    with contextlib.closing(blob_sources(runtime, conn, envelopes, key)) as sources:
        for source in sources:
            # A partial is taken only if it is this envelope, whole.
            if not source.is_blob and payload_digest_hex(source.reopen()) != key:
                continue
            _, start = writer.add(f"blobs/{key}", source.size, source.reopen())
            # Read the copy back from the archive: what was written is what restores.
            if payload_digest_hex(writer.read_back(start, source.size)) != key:
                raise StoreDamaged(f"blob {key} in the store does not match its name")
            return source.size
    if still_referenced(runtime, key):
        raise StoreDamaged(f"the database names blob {key}, but the store does not hold it")
    return None


def _dump_table(conn: Connection, table: Table, out: IO[bytes], skip: dict[str, set[str]]) -> int:
    """Writes the table's rows as JSON lines, in primary-key order."""
    query = (
        select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH_ROWS)
    )
    count = 0
    for row in conn.execute(query).mappings():
        if any(row.get(column) in values for column, values in skip.items()):
            continue
        line = json.dumps(
            {column: encode_value(value) for column, value in row.items()},
            sort_keys=True,
            separators=(",", ":"),
        )
        out.write(line.encode() + b"\n")
        count += 1
    return count


def _skip_rules(table: str, sids: set[str], keys: set[str]) -> dict[str, set[str]]:
    """Rows of submissions deleted (with their blobs) after the snapshot."""
    if table == SUBMISSIONS:
        return {"id": sids}
    if table == ENVELOPES:
        return {"submission_id": sids}
    if table == RECEIPTS:
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
    if runtime.engine.dialect.name not in ("postgresql", "sqlite"):
        raise BackupError(f"backups of {runtime.engine.dialect.name} databases are not supported")
    writer = ArchiveWriter(out)
    try:
        with snapshot(runtime.engine) as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            if revision is None:
                raise BackupError("the database has no schema: nothing to back up")
            tables = _tables(conn)
            by_name = {table.name: table for table in tables}
            if ENVELOPES not in by_name:
                raise BackupError("the database has no envelopes table")
            envelopes = by_name[ENVELOPES]
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
                if not HEX64.match(key):
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
