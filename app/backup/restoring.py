"""`intake restore`: every member checked against MANIFEST.json, every blob
against its name, before an empty target is filled."""

from __future__ import annotations

import contextlib
import hmac
import secrets
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, MetaData, Table, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

import crypto
from app.backup.archive import (
    BATCH_BYTES,
    BATCH_ROWS,
    COPY_BYTES,
    ENVELOPES,
    FORMAT,
    FORMAT_VERSION,
    HEX64,
    MANIFEST_NAME,
    MANIFESTS,
    MAX_LINE_BYTES,
    MAX_MANIFEST_BYTES,
    NOT_TABLES,
    REVISION,
    TABLE_NAME,
    Hashing,
    decode_value,
    payload_digest_hex,
)
from app.backup.errors import ArchiveInvalid, BackupError, TargetNotEmpty
from app.db import core_transaction, read_connection
from app.migrate import alembic_config, downgrade, upgrade
from app.runtime import Runtime
from app.storage import BlobStore, DatabaseBlobStore
from crypto.bundle import BoundedTarInfo


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
        or not HEX64.match(value["sha256"])
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
    if members[MANIFEST_NAME].size > MAX_MANIFEST_BYTES:
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
    if not isinstance(revision, str) or not REVISION.match(revision):
        raise ArchiveInvalid("MANIFEST.json: bad schema revision")
    if not isinstance(tables, dict) or not isinstance(blobs, dict):
        raise ArchiveInvalid("MANIFEST.json: tables and blobs must be objects")
    expected = {MANIFEST_NAME}
    for name, entry in tables.items():
        if not isinstance(name, str) or not TABLE_NAME.match(name) or name in NOT_TABLES:
            raise ArchiveInvalid(f"MANIFEST.json: bad table name {name!r}")
        _entry(entry, name)
        if not isinstance(entry.get("rows"), int) or isinstance(entry.get("rows"), bool):
            raise ArchiveInvalid(f"MANIFEST.json: bad row count for {name}")
        expected.add(f"tables/{name}.jsonl")
    for key, entry in blobs.items():
        if not isinstance(key, str) or not HEX64.match(key):
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


def _check_member(archive: _Archive, name: str, entry: dict[str, Any]) -> Hashing:
    if archive.members[name].size != entry["size"]:
        raise ArchiveInvalid(f"{name}: size differs from MANIFEST.json")
    return Hashing(archive.open(name))


def _hash_matches(hashing: Hashing, entry: dict[str, Any]) -> bool:
    return hmac.compare_digest(hashing.sha256.hexdigest(), str(entry["sha256"]))


def _rows(src: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(iter(lambda: src.readline(MAX_LINE_BYTES), b""), 1):
        if not line.endswith(b"\n"):
            raise ArchiveInvalid(f"{name}: line {number} is cut short or too long")
        try:
            row = crypto.load_json(line)
        except ValueError as exc:
            raise ArchiveInvalid(f"{name}: line {number} is not valid JSON") from exc
        if not isinstance(row, dict):
            raise ArchiveInvalid(f"{name}: line {number} is not an object")
        yield {str(column): decode_value(value) for column, value in row.items()}


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
        digest = payload_digest_hex(hashing)
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
            if table == ENVELOPES and row.get("digest") is not None:
                referenced.add(str(row["digest"]))
            if table == MANIFESTS:
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
    with read_connection(engine) as conn:
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
    with read_connection(runtime.engine) as conn:
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
            hashing = Hashing(archive.open(f"blobs/{key}"))
            upload = f"{secrets.token_hex(16)}.form"  # a private name for the copy
            with store.append(upload, 0) as appender:
                while block := hashing.read(COPY_BYTES):
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
    target = [table for table in metadata.sorted_tables if table.name not in NOT_TABLES]
    if {table.name for table in target} != set(archive.tables):
        raise ArchiveInvalid(
            f"the archive's tables {sorted(archive.tables)} do not match the schema at revision "
            f"{archive.revision}: {sorted(table.name for table in target)}"
        )
    counts: dict[str, int] = {}
    for table in target:
        name = f"tables/{table.name}.jsonl"
        entry = archive.tables[table.name]
        hashing = Hashing(archive.open(name))
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
            if len(batch) >= BATCH_ROWS or batch_bytes >= BATCH_BYTES:
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
            with core_transaction(runtime.engine) as conn:
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
