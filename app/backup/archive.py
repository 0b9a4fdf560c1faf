"""The archive's format: member names, the MANIFEST.json bounds, row values
as JSON, and the streams that hash what they pass (shared by backup and restore)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Any, BinaryIO, Protocol

import crypto
from app.backup.errors import ArchiveInvalid, BackupError
from app.models import BlobChunk
from app.storage.base import BLOB_KEY

FORMAT = "intake-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "MANIFEST.json"

# Not copied as tables: Alembic's bookkeeping (restore re-creates it by
# migrating) and the `db` backend's blob rows (copied as blobs, by digest, so
# an archive restores into either backend; partials and temporaries are never
# copied: an upload in progress restarts from its beginning).
NOT_TABLES = frozenset({"alembic_version", BlobChunk.__tablename__})
TABLE_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
# A blob's name (its payload digest) and a member's SHA-256: 64 hex digits.
HEX64 = BLOB_KEY
REVISION = re.compile(r"\A[0-9A-Za-z_]{1,64}\Z")

COPY_BYTES = 1024 * 1024
BATCH_ROWS = 500
BATCH_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 256 * 1024 * 1024

# The few columns backup and restore must understand (the rest is copied as is).
ENVELOPES = "envelopes"
SUBMISSIONS = "submissions"
RECEIPTS = "receipts"
MANIFESTS = "manifests"


# -- values ---------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A column value as JSON: bytes and times are tagged so they come back typed."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"time": value.isoformat()}
    raise BackupError(f"cannot back up a value of type {type(value).__name__}")


def decode_value(value: Any) -> Any:
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


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Hashing:
    """Passes reads through, hashing (SHA-256) and counting what went by."""

    def __init__(self, src: Readable) -> None:
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
        while self.read(COPY_BYTES):
            pass


class Window:
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


def payload_digest_hex(src: Readable) -> str | None:
    try:
        return crypto.payload_digest(src).hex()  # type: ignore[arg-type]  # only .read is used
    except crypto.InvalidEnvelope:
        return None
