"""Which copy of a blob a backup takes: the blob, else the upload partial it
may still be in (its digest is recorded before its bytes move), read inside
the backup's snapshot when blobs are database rows."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Connection, MetaData, Table, select

from app.backup.archive import ENVELOPES, Readable
from app.backup.errors import StoreDamaged
from app.db import read_connection
from app.runtime import Runtime
from app.storage import BlobMissing, BlobStore, DatabaseBlobStore
from app.storage.database import PARTIAL, RowReader


def _upload_ids(conn: Connection, envelopes: Table, key: str) -> list[str]:
    rows = conn.execute(
        select(envelopes.c.submission_id, envelopes.c.eid).where(envelopes.c.digest == key)
    ).all()
    return [f"{sid}.{eid}" for sid, eid in rows]


@dataclass
class BlobSource:
    """A candidate copy of a blob: `reopen` gives a reader from its first byte."""

    is_blob: bool
    size: int
    reopen: Callable[[], Readable]


def blob_sources(
    runtime: Runtime, conn: Connection, envelopes: Table, key: str
) -> Generator[BlobSource, None, None]:
    """Candidate copies of blob `key`: the blob, then the partial of each
    envelope that names it (its digest is recorded before its bytes move)."""
    uploads = _upload_ids(conn, envelopes, key)
    if isinstance(runtime.blobs, DatabaseBlobStore):
        for name, is_blob in [(key, True), *((PARTIAL + u, False) for u in uploads)]:
            size = _snapshot_rows(conn, name).size
            if size:
                # Same snapshot, same bytes: reading it again is reading it twice.

                def again(name: str = name) -> Readable:
                    return io.BufferedReader(_snapshot_rows(conn, name))

                yield BlobSource(is_blob, size, again)
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

                def rewind(handle: BinaryIO = handle) -> Readable:
                    handle.seek(0)
                    return handle

                yield BlobSource(attempt == "blob", size, rewind)


def still_referenced(runtime: Runtime, key: str) -> bool:
    with read_connection(runtime.engine) as conn:
        envelopes = Table(ENVELOPES, MetaData(), autoload_with=conn)
        return (
            conn.execute(
                select(envelopes.c.digest).where(envelopes.c.digest == key).limit(1)
            ).first()
            is not None
        )


def _snapshot_rows(conn: Connection, name: str) -> RowReader:
    """The store's row reader on the backup's own connection (left open), so
    it reads exactly the blob the snapshot saw, one row in memory at a time."""
    reader = RowReader(lambda: contextlib.nullcontext(conn), name)
    if not reader.contiguous:
        raise StoreDamaged(f"blob rows of {name} are not contiguous")
    return reader
