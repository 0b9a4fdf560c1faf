"""Blobs as rows of `blob_chunks`, so several app instances share them.

A blob is the concatenation of its rows ordered by `offset`. Each append
inserts rows at the offset it expects; the primary key (key, offset) makes a
second, concurrent writer at the same offset fail instead of interleaving.
Every operation runs in its own short transaction, apart from any request's.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.db import core_transaction, read_connection, rowcount
from app.models import BlobChunk
from app.storage.base import (
    BLOB_KEY,
    UPLOAD_ID,
    BlobMissing,
    OffsetConflict,
    StorageError,
    check_key,
    check_upload_id,
)

ROW_BYTES = 1024 * 1024
PARTIAL = "partial/"  # a partial's rows are named PARTIAL + its upload id
_TMP = "tmp/"


Connect = Callable[[], AbstractContextManager[Connection]]


class RowReader(io.RawIOBase):
    """Reads a blob (or a partial: `PARTIAL` + its upload id) row by row;
    holds at most one row in memory.

    Each query runs on `connect()`: the store's own short read-only
    connection, or (a backup) `contextlib.nullcontext` of the connection
    whose snapshot the backup copies, so that it reads the blob that snapshot saw.
    """

    def __init__(self, connect: Connect, key: str) -> None:
        super().__init__()
        self._connect = connect
        self._key = key
        with connect() as conn:
            rows = conn.execute(
                select(BlobChunk.offset, func.length(BlobChunk.data))
                .where(BlobChunk.key == key)
                .order_by(BlobChunk.offset)
            ).all()
        self._rows = [(int(offset), int(length)) for offset, length in rows]
        # Each row starts where the one before it ends (a damaged store's may not).
        self.contiguous = True
        self.size = 0
        for offset, length in self._rows:
            self.contiguous = self.contiguous and offset == self.size
            self.size += length
        self._pos = 0
        self._cache: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _row_at(self, pos: int) -> tuple[int, bytes] | None:
        if self._cache and self._cache[0] <= pos < self._cache[0] + len(self._cache[1]):
            return self._cache
        for offset, length in self._rows:
            if offset <= pos < offset + length:
                with self._connect() as conn:
                    data = conn.execute(
                        select(BlobChunk.data).where(
                            BlobChunk.key == self._key, BlobChunk.offset == offset
                        )
                    ).scalar_one_or_none()
                if data is None:
                    # Moved (a racing request stored this partial) or deleted
                    # since the row list was read: for the reader, gone.
                    raise BlobMissing(self._key)
                self._cache = (offset, bytes(data))
                return self._cache
        return None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        row = self._row_at(self._pos)
        if row is None:
            return 0
        offset, data = row
        start = self._pos - offset
        count = min(len(buffer), len(data) - start)
        buffer[:count] = data[start : start + count]
        self._pos += count
        return count


class _RowAppender:
    def __init__(self, engine: Engine, key: str, size: int) -> None:
        self._engine = engine
        self._key = key
        self._buffer = bytearray()
        self._flushed = size
        self.size = size

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= ROW_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        try:
            with core_transaction(self._engine) as conn:
                conn.execute(
                    insert(BlobChunk).values(
                        key=self._key, offset=self._flushed, data=bytes(self._buffer)
                    )
                )
        except IntegrityError as exc:
            # Another writer got to this offset first: keep its bytes.
            self.size = self._flushed
            self._buffer.clear()
            raise OffsetConflict(self._flushed) from exc
        self._flushed += len(self._buffer)
        self._buffer.clear()


class DatabaseBlobStore:
    """`BlobStore` over the `blob_chunks` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _reader(self) -> Connection:
        return read_connection(self._engine)

    def _size_of(self, name: str) -> int:
        with self._reader() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(func.length(BlobChunk.data)), 0)).where(
                    BlobChunk.key == name
                )
            ).scalar_one()
        return int(total)

    def _exists(self, name: str) -> bool:
        with self._reader() as conn:
            return (
                conn.execute(select(BlobChunk.offset).where(BlobChunk.key == name).limit(1)).first()
                is not None
            )

    def partial_size(self, upload_id: str) -> int:
        return self._size_of(PARTIAL + check_upload_id(upload_id))

    @contextlib.contextmanager
    def append(self, upload_id: str, offset: int) -> Iterator[_RowAppender]:
        name = PARTIAL + check_upload_id(upload_id)
        size = self._size_of(name)
        if size != offset:
            raise OffsetConflict(size)
        appender = _RowAppender(self._engine, name, size)
        try:
            yield appender
        finally:
            appender.flush()

    def open_partial(self, upload_id: str) -> BinaryIO:
        name = PARTIAL + check_upload_id(upload_id)
        if not self._exists(name):
            raise BlobMissing(upload_id)
        return io.BufferedReader(RowReader(self._reader, name))

    def commit_partial(self, upload_id: str, key: str) -> None:
        name = PARTIAL + check_upload_id(upload_id)
        check_key(key)
        with core_transaction(self._engine) as conn:
            exists = conn.execute(
                select(BlobChunk.offset).where(BlobChunk.key == key).limit(1)
            ).first()
            if exists is not None:
                conn.execute(delete(BlobChunk).where(BlobChunk.key == name))
                return
            try:
                with conn.begin_nested():
                    moved = rowcount(
                        conn.execute(update(BlobChunk).where(BlobChunk.key == name).values(key=key))
                    )
            except IntegrityError:
                # A racing commit of the same payload (another upload of it)
                # stored it first: keep that one, as above.
                conn.execute(delete(BlobChunk).where(BlobChunk.key == name))
                return
            if (
                not moved
                and conn.execute(
                    select(BlobChunk.offset).where(BlobChunk.key == key).limit(1)
                ).first()
                is None
            ):
                # Under READ COMMITTED a racing commit of this very partial
                # may have moved it while this one waited: this statement
                # sees that commit, so the blob is there and all is done.
                raise BlobMissing(upload_id)

    def discard_partial(self, upload_id: str) -> None:
        with core_transaction(self._engine) as conn:
            conn.execute(
                delete(BlobChunk).where(BlobChunk.key == PARTIAL + check_upload_id(upload_id))
            )

    def exists(self, key: str) -> bool:
        return self._exists(check_key(key))

    def size(self, key: str) -> int:
        if not self.exists(key):
            raise BlobMissing(key)
        return self._size_of(key)

    def open(self, key: str) -> BinaryIO:
        if not self.exists(key):
            raise BlobMissing(key)
        return io.BufferedReader(RowReader(self._reader, key))

    def read_head(self, key: str, length: int) -> bytes:
        check_key(key)
        if length <= 0:
            if not self.exists(key):
                raise BlobMissing(key)
            return b""
        # Only the rows that start inside the head, and only their first bytes:
        # a prefix costs a few hundred bytes of transfer, not a 1 MiB row.
        with self._reader() as conn:
            rows = conn.execute(
                select(BlobChunk.offset, func.substr(BlobChunk.data, 1, length))
                .where(BlobChunk.key == key, BlobChunk.offset < length)
                .order_by(BlobChunk.offset)
            ).all()
        if not rows:
            raise BlobMissing(key)
        head = bytearray()
        for offset, data in rows:
            if int(offset) != len(head):
                raise OSError("blob rows are not contiguous")
            head += bytes(data)
        return bytes(head[:length])

    def replace_prefix(self, key: str, old_prefix_len: int, new_prefix: bytes) -> int:
        check_key(key)
        tmp = f"{_TMP}{key}.{secrets.token_hex(8)}"
        appender = _RowAppender(self._engine, tmp, 0)
        try:
            appender.write(new_prefix)
            with self.open(key) as old:
                old.seek(old_prefix_len)
                while block := old.read(ROW_BYTES):
                    appender.write(block)
            appender.flush()
            with core_transaction(self._engine) as conn:
                written = conn.execute(
                    select(func.coalesce(func.sum(func.length(BlobChunk.data)), 0)).where(
                        BlobChunk.key == tmp
                    )
                ).scalar_one()
                if int(written) != appender.size:
                    # The copy is not whole (a purge removed it?): keep the old blob.
                    raise StorageError("rewritten blob incomplete")
                conn.execute(delete(BlobChunk).where(BlobChunk.key == key))
                conn.execute(update(BlobChunk).where(BlobChunk.key == tmp).values(key=key))
        except BaseException:
            with core_transaction(self._engine) as conn:
                conn.execute(delete(BlobChunk).where(BlobChunk.key == tmp))
            raise
        return appender.size

    def delete(self, key: str) -> None:
        with core_transaction(self._engine) as conn:
            conn.execute(delete(BlobChunk).where(BlobChunk.key == check_key(key)))

    def _names(self) -> list[str]:
        with self._reader() as conn:
            return list(conn.execute(select(BlobChunk.key).distinct()).scalars())

    def list_blobs(self) -> Iterator[str]:
        for name in self._names():
            if BLOB_KEY.match(name):
                yield name

    def list_partials(self) -> Iterator[str]:
        for name in self._names():
            if name.startswith(PARTIAL) and UPLOAD_ID.match(name[len(PARTIAL) :]):
                yield name[len(PARTIAL) :]

    def clean_tmp(self) -> int:
        with core_transaction(self._engine) as conn:
            return rowcount(conn.execute(delete(BlobChunk).where(BlobChunk.key.startswith(_TMP))))
